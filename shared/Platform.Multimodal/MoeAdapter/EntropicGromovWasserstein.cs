namespace Platform.Multimodal.MoeAdapter;

/// <summary>A coupling between two metric-measure spaces and its Gromov-Wasserstein loss.</summary>
/// <param name="Coupling">[n, m], rows sum to p, columns to q.</param>
/// <param name="Loss">sum_{i,j,k,l} (C1[i,k] - C2[j,l])^2 T[i,j] T[k,l] for the returned coupling.</param>
public sealed record GromovWassersteinResult(double[,] Coupling, double Loss, int Iterations, bool Converged);

/// <summary>
/// Entropic Gromov-Wasserstein with the square loss (Peyre, Cuturi and Solomon, "Gromov-Wasserstein Averaging of
/// Kernel and Distance Matrices", ICML 2016, Prop. 2 / Algorithm 1, as POT's entropic_gromov_wasserstein
/// computes it): start from p q^T; each outer step linearises the quadratic loss at T,
/// M = f1(C1) p 1^T + 1 q^T f2(C2)^T - 2 C1 T C2^T (f1 = f2 = square), and takes T = Sinkhorn(p, q, M, epsilon),
/// until T moves less than the tolerance. Sinkhorn runs in the log domain so a small epsilon does not underflow.
/// Hand-written: no .NET optimal-transport library is known here (the problems are a few hundred points a side).
/// C1 and C2 must be symmetric (distance matrices).
/// </summary>
public static class EntropicGromovWasserstein
{
    public static GromovWassersteinResult Solve(double[,] c1, double[,] c2, double[] p, double[] q, double epsilon,
        int maxIterations = 500, double tolerance = 1e-9, int sinkhornIterations = 2000, CancellationToken cancellationToken = default)
    {
        int n = p.Length, m = q.Length;
        if (c1.GetLength(0) != n || c1.GetLength(1) != n || c2.GetLength(0) != m || c2.GetLength(1) != m)
            throw new ArgumentException($"C1 must be [{n}, {n}] and C2 [{m}, {m}] (the lengths of p and q)");
        if (epsilon <= 0) throw new ArgumentOutOfRangeException(nameof(epsilon), "epsilon must be positive");
        if (Math.Abs(p.Sum() - 1) > 1e-6 || Math.Abs(q.Sum() - 1) > 1e-6 || p.Any(x => x < 0) || q.Any(x => x < 0))
            throw new ArgumentException("p and q must be probability vectors");

        // constC[i, j] = sum_k C1[i,k]^2 p[k] + sum_l C2[j,l]^2 q[l]
        var a = new double[n];
        var b = new double[m];
        for (int i = 0; i < n; i++) for (int k = 0; k < n; k++) a[i] += c1[i, k] * c1[i, k] * p[k];
        for (int j = 0; j < m; j++) for (int l = 0; l < m; l++) b[j] += c2[j, l] * c2[j, l] * q[l];

        var t = new double[n, m];
        for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) t[i, j] = p[i] * q[j];
        var cost = new double[n, m];
        int iteration = 0;
        bool converged = false;
        while (iteration < maxIterations)
        {
            cancellationToken.ThrowIfCancellationRequested();
            iteration++;
            Linearised(c1, c2, t, a, b, cost);
            var next = Sinkhorn(p, q, cost, epsilon, sinkhornIterations);
            double change = 0;
            for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) change += Math.Abs(next[i, j] - t[i, j]);
            t = next;
            if (change < tolerance) { converged = true; break; }
        }
        return new GromovWassersteinResult(t, Loss(c1, c2, t, a, b), iteration, converged);
    }

    /// <summary>The square-loss GW objective of a coupling: &lt;constC - 2 C1 T C2^T, T&gt;.</summary>
    public static double Loss(double[,] c1, double[,] c2, double[,] t)
    {
        int n = t.GetLength(0), m = t.GetLength(1);
        var p = new double[n];
        var q = new double[m];
        for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) { p[i] += t[i, j]; q[j] += t[i, j]; }
        var a = new double[n];
        var b = new double[m];
        for (int i = 0; i < n; i++) for (int k = 0; k < n; k++) a[i] += c1[i, k] * c1[i, k] * p[k];
        for (int j = 0; j < m; j++) for (int l = 0; l < m; l++) b[j] += c2[j, l] * c2[j, l] * q[l];
        return Loss(c1, c2, t, a, b);
    }

    private static double Loss(double[,] c1, double[,] c2, double[,] t, double[] a, double[] b)
    {
        int n = t.GetLength(0), m = t.GetLength(1);
        var cost = new double[n, m];
        Linearised(c1, c2, t, a, b, cost);
        double loss = 0;
        for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) loss += cost[i, j] * t[i, j];
        return loss;
    }

    /// <summary>cost = a 1^T + 1 b^T - 2 C1 T C2^T.</summary>
    private static void Linearised(double[,] c1, double[,] c2, double[,] t, double[] a, double[] b, double[,] cost)
    {
        int n = a.Length, m = b.Length;
        var tc2 = new double[n, m];   // T C2^T (C2 symmetric)
        Parallel.For(0, n, i =>
        {
            for (int l = 0; l < m; l++)
            {
                double til = t[i, l];
                if (til == 0) continue;
                for (int j = 0; j < m; j++) tc2[i, j] += til * c2[j, l];
            }
        });
        Parallel.For(0, n, i =>
        {
            for (int j = 0; j < m; j++) cost[i, j] = a[i] + b[j];
            for (int k = 0; k < n; k++)
            {
                double c = 2 * c1[i, k];
                if (c == 0) continue;
                for (int j = 0; j < m; j++) cost[i, j] -= c * tc2[k, j];
            }
        });
    }

    /// <summary>Entropic optimal transport diag(u) exp(-M/epsilon) diag(v) with marginals p, q (log-domain Sinkhorn).</summary>
    public static double[,] Sinkhorn(double[] p, double[] q, double[,] cost, double epsilon, int iterations = 2000, double tolerance = 1e-12)
    {
        int n = p.Length, m = q.Length;
        var f = new double[n];
        var g = new double[m];
        var logP = p.Select(x => x > 0 ? Math.Log(x) : double.NegativeInfinity).ToArray();
        var logQ = q.Select(x => x > 0 ? Math.Log(x) : double.NegativeInfinity).ToArray();
        var row = new double[Math.Max(n, m)];
        for (int it = 0; it < iterations; it++)
        {
            // f_i = eps log p_i - eps logsumexp_j((g_j - M_ij) / eps), and the same for g.
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < m; j++) row[j] = (g[j] - cost[i, j]) / epsilon;
                f[i] = epsilon * (logP[i] - LogSumExp(row, m));
            }
            double error = 0;
            for (int j = 0; j < m; j++)
            {
                for (int i = 0; i < n; i++) row[i] = (f[i] - cost[i, j]) / epsilon;
                double updated = epsilon * (logQ[j] - LogSumExp(row, n));
                error = Math.Max(error, Math.Abs(updated - g[j]));
                g[j] = updated;
            }
            if (error < tolerance * epsilon) break;
        }
        var t = new double[n, m];
        for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) t[i, j] = Math.Exp((f[i] + g[j] - cost[i, j]) / epsilon);
        return t;
    }

    private static double LogSumExp(double[] x, int count)
    {
        double max = double.NegativeInfinity;
        for (int i = 0; i < count; i++) max = Math.Max(max, x[i]);
        if (double.IsNegativeInfinity(max)) return max;
        double sum = 0;
        for (int i = 0; i < count; i++) sum += Math.Exp(x[i] - max);
        return max + Math.Log(sum);
    }

    /// <summary>
    /// Barycentric projection of a coupling onto target points: row i = sum_j T[i,j] y_j / sum_j T[i,j] (the new
    /// embeddings from the coupling between the codebook and the text embeddings).
    /// </summary>
    public static float[,] BarycentricProjection(double[,] coupling, float[,] targets)
    {
        int n = coupling.GetLength(0), m = coupling.GetLength(1), d = targets.GetLength(1);
        if (targets.GetLength(0) != m) throw new ArgumentException($"targets must have {m} rows (the coupling's columns)");
        var result = new float[n, d];
        for (int i = 0; i < n; i++)
        {
            double mass = 0;
            var acc = new double[d];
            for (int j = 0; j < m; j++)
            {
                double w = coupling[i, j];
                if (w == 0) continue;
                mass += w;
                for (int c = 0; c < d; c++) acc[c] += w * targets[j, c];
            }
            for (int c = 0; c < d; c++) result[i, c] = (float)(mass > 0 ? acc[c] / mass : 0);
        }
        return result;
    }

    /// <summary>Euclidean distance matrix of row vectors [n, d], divided by its largest entry (scale-free costs).</summary>
    public static double[,] NormalisedDistances(float[,] points)
    {
        int n = points.GetLength(0), d = points.GetLength(1);
        var c = new double[n, n];
        double max = 0;
        for (int i = 0; i < n; i++)
            for (int k = i + 1; k < n; k++)
            {
                double s = 0;
                for (int x = 0; x < d; x++) { double diff = points[i, x] - points[k, x]; s += diff * diff; }
                c[i, k] = c[k, i] = Math.Sqrt(s);
                max = Math.Max(max, c[i, k]);
            }
        if (max > 0) for (int i = 0; i < n; i++) for (int k = 0; k < n; k++) c[i, k] /= max;
        return c;
    }
}
