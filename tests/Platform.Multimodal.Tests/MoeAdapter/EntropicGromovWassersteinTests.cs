using Platform.Multimodal.MoeAdapter;
using Xunit;

namespace Platform.Multimodal.Tests.MoeAdapter;

public class EntropicGromovWassersteinTests
{
    private static double[] Uniform(int n) => Enumerable.Repeat(1.0 / n, n).ToArray();

    private static float[,] RandomPoints(int n, int d, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n, d];
        for (int i = 0; i < n; i++) for (int c = 0; c < d; c++) x[i, c] = (float)rng.NextDouble();
        return x;
    }

    private static float[,] Permute(float[,] x, int[] perm)
    {
        var y = new float[x.GetLength(0), x.GetLength(1)];
        for (int j = 0; j < perm.Length; j++) for (int c = 0; c < x.GetLength(1); c++) y[j, c] = x[perm[j], c];
        return y;
    }

    [Fact]
    public void Solve_PermutedCopy_RecoversPermutationWithZeroLoss()
    {
        // Space 2 is space 1 with its points reordered: the optimal coupling is the permutation (/ n), GW loss 0.
        var x = RandomPoints(7, 3, seed: 1);
        int[] perm = [3, 0, 6, 1, 5, 2, 4];   // point j of space 2 is point perm[j] of space 1
        var c1 = EntropicGromovWasserstein.NormalisedDistances(x);
        var c2 = EntropicGromovWasserstein.NormalisedDistances(Permute(x, perm));

        var r = EntropicGromovWasserstein.Solve(c1, c2, Uniform(7), Uniform(7), epsilon: 2e-3);

        Assert.True(r.Converged, $"not converged in {r.Iterations} iterations");
        for (int j = 0; j < 7; j++)
        {
            int best = Enumerable.Range(0, 7).MaxBy(i => r.Coupling[i, j]);
            Assert.Equal(perm[j], best);
            Assert.True(r.Coupling[perm[j], j] > 0.99 / 7, $"column {j}: mass {r.Coupling[perm[j], j] * 7:F3} of 1 on the matched point");
        }
        Assert.True(r.Loss < 1e-4, $"loss {r.Loss}");
    }

    [Fact]
    public void Solve_DuplicatedPoints_SplitsMassOverTheCopies()
    {
        // Three points on a line (0, 1, 3: no reflection symmetry) against the same three points each present
        // twice: each point's mass goes half to each of its two copies, loss 0.
        var c1 = new double[3, 3];
        double[] x = [0, 1, 3];
        for (int i = 0; i < 3; i++) for (int k = 0; k < 3; k++) c1[i, k] = Math.Abs(x[i] - x[k]) / 3;
        var c2 = new double[6, 6];
        for (int j = 0; j < 6; j++) for (int l = 0; l < 6; l++) c2[j, l] = Math.Abs(x[j % 3] - x[l % 3]) / 3;

        var r = EntropicGromovWasserstein.Solve(c1, c2, Uniform(3), Uniform(6), epsilon: 1e-3);

        for (int i = 0; i < 3; i++)
        {
            Assert.InRange(r.Coupling[i, i], 1.0 / 6 - 1e-3, 1.0 / 6 + 1e-3);
            Assert.InRange(r.Coupling[i, i + 3], 1.0 / 6 - 1e-3, 1.0 / 6 + 1e-3);
        }
        Assert.True(r.Loss < 1e-4, $"loss {r.Loss}");
    }

    [Fact]
    public void Solve_AnyProblem_CouplingHasTheGivenMarginals()
    {
        var c1 = EntropicGromovWasserstein.NormalisedDistances(RandomPoints(5, 2, seed: 2));
        var c2 = EntropicGromovWasserstein.NormalisedDistances(RandomPoints(8, 4, seed: 3));
        double[] p = [0.1, 0.2, 0.3, 0.25, 0.15];
        var q = Uniform(8);

        var r = EntropicGromovWasserstein.Solve(c1, c2, p, q, epsilon: 0.01);

        for (int i = 0; i < 5; i++) Assert.Equal(p[i], Enumerable.Range(0, 8).Sum(j => r.Coupling[i, j]), 6);
        for (int j = 0; j < 8; j++) Assert.Equal(q[j], Enumerable.Range(0, 5).Sum(i => r.Coupling[i, j]), 6);
        // The solver's coupling is no worse than the independent coupling p q^T it starts from.
        var independent = new double[5, 8];
        for (int i = 0; i < 5; i++) for (int j = 0; j < 8; j++) independent[i, j] = p[i] * q[j];
        Assert.True(r.Loss <= EntropicGromovWasserstein.Loss(c1, c2, independent) + 1e-12);
    }

    [Fact]
    public void Loss_TwoPointSpacesIndependentCoupling_IsOneHalf()
    {
        // C1 = C2 = [[0,1],[1,0]], T = 1/4 everywhere: (C1[i,k] - C2[j,l])^2 is 1 for 8 of the 16 index tuples.
        var c = new double[,] { { 0, 1 }, { 1, 0 } };
        var t = new double[,] { { 0.25, 0.25 }, { 0.25, 0.25 } };
        Assert.Equal(0.5, EntropicGromovWasserstein.Loss(c, c, t), 12);
        Assert.Equal(0.0, EntropicGromovWasserstein.Loss(c, c, new double[,] { { 0.5, 0 }, { 0, 0.5 } }), 12);
    }

    [Fact]
    public void Sinkhorn_LinearCost_ConcentratesOnTheCheapAssignment()
    {
        // Plain entropic OT: cost 0 on the anti-diagonal, 1 elsewhere; small epsilon puts all mass there.
        var cost = new double[,] { { 1, 1, 0 }, { 1, 0, 1 }, { 0, 1, 1 } };
        var t = EntropicGromovWasserstein.Sinkhorn(Uniform(3), Uniform(3), cost, epsilon: 0.01);
        for (int i = 0; i < 3; i++) Assert.Equal(1.0 / 3, t[i, 2 - i], 6);
    }

    [Fact]
    public void BarycentricProjection_PermutationCoupling_PermutesTargets()
    {
        var targets = RandomPoints(4, 3, seed: 4);
        var coupling = new double[4, 4];
        int[] perm = [2, 0, 3, 1];
        for (int i = 0; i < 4; i++) coupling[i, perm[i]] = 0.25;
        var projected = EntropicGromovWasserstein.BarycentricProjection(coupling, targets);
        for (int i = 0; i < 4; i++) for (int c = 0; c < 3; c++) Assert.Equal(targets[perm[i], c], projected[i, c]);

        // A row split evenly over two targets lands on their midpoint.
        var half = new double[1, 4];
        half[0, 0] = half[0, 1] = 0.5;
        var mid = EntropicGromovWasserstein.BarycentricProjection(half, targets);
        Assert.Equal((targets[0, 1] + targets[1, 1]) / 2, mid[0, 1], 5);
    }

    [Fact]
    public void Solve_BadInputs_Throw()
    {
        var c = new double[2, 2];
        Assert.Throws<ArgumentException>(() => EntropicGromovWasserstein.Solve(c, c, Uniform(3), Uniform(2), 0.1));
        Assert.Throws<ArgumentException>(() => EntropicGromovWasserstein.Solve(c, c, [0.7, 0.7], Uniform(2), 0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => EntropicGromovWasserstein.Solve(c, c, Uniform(2), Uniform(2), 0));
    }
}
