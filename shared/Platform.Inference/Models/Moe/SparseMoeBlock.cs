using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Platform.Inference.Models.Llama;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Moe;

/// <summary>
/// The sparse feed-forward block every family here shares (MixtralSparseMoeBlock, OlmoeSparseMoeBlock,
/// Qwen2MoeSparseMoeBlock): <c>gate</c> (router, no bias) and <c>experts</c>, either one module per expert
/// (<see cref="ExpertLayout.PerExpert"/>) or the stacked <see cref="MoeExperts"/>. Each token goes to its top-k
/// experts (<see cref="MoeRouting"/>) and the block returns sum_j w_j expert_j(x), plus a family's extra term
/// (Qwen2-MoE's gated shared expert).
/// <para>Both paths group tokens by expert, so each selected expert's weights are read once per forward: the torch
/// path (prefill, training; differentiable) gathers the expert's tokens with index_select and scatters back with
/// index_add_ in expert order as the reference does; the span path (decode) does the same on spans with the
/// register-blocked <see cref="RowKernels.Gemm"/>.</para>
/// </summary>
public abstract class SparseMoeBlock : nn.Module
{
    public readonly Linear gate;
    public readonly nn.Module experts;
    private readonly int _experts, _topK, _hidden, _intermediate;
    private readonly bool _renormalize;
    // Inference storage: [E, 2I, H] and [E, H, I] (the stacked parameters, or the per-expert weights moved into
    // one buffer with the Linear weights re-pointed at views), and one view per expert for the span GEMMs.
    private Tensor? _gateUp, _down;
    private Tensor[] _gateUpOf = [], _downOf = [];
    private float[] _logits = [], _probabilities = [], _weights = [], _x = [], _gu = [], _act = [], _y = [];
    private int[] _chosen = [], _order = [], _counts = [];

    protected SparseMoeBlock(string name, MoeConfig config, Func<int, nn.Module> perExpert) : base(name)
    {
        _experts = config.ExpertCount;
        _topK = config.ExpertsPerToken;
        _hidden = config.HiddenSize;
        _intermediate = config.ExpertIntermediateSize;
        _renormalize = config.RenormalizeTopK;
        gate = nn.Linear(_hidden, _experts, hasBias: false);
        experts = config.Layout == ExpertLayout.Fused
            ? new MoeExperts(_experts, _hidden, _intermediate)
            : new ModuleList<nn.Module>(Enumerable.Range(0, _experts).Select(perExpert).ToArray());
    }

    public int ExpertCount => _experts;
    public int TopK => _topK;

    /// <summary>
    /// Adapter applied only at <see cref="AdapterRows"/> (image-token positions); every other row takes exactly the
    /// base computation, so with no such rows the block's output is bitwise the base block's. Not a registered
    /// component: the block's state dict stays the base checkpoint's.
    /// </summary>
    public ExpertLoRA? Adapter { get; set; }
    /// <summary>Rows (of the flattened [B*T] input of the next forwards) the adapter acts on; null = none.</summary>
    public bool[]? AdapterRows { get; set; }

    /// <summary>Called with the router logits [N, E] of every torch-path forward, when set (a training loss on the
    /// routing, e.g. the load-balancing loss of upcycling). The tensor belongs to the forward's dispose scope.</summary>
    public Action<Tensor>? RouterLogitsObserver { get; set; }

    /// <summary>Counts of routed tokens, when set (routing statistics); called with the expert ids [N, k] of a forward.</summary>
    public Action<int[]>? RoutingObserver { get; set; }

    /// <summary>Expert <paramref name="e"/>'s gate [I, H], up [I, H] and down [H, I] weights in either layout (differentiable).</summary>
    public (Tensor Gate, Tensor Up, Tensor Down) ExpertWeights(int e)
    {
        if (experts is MoeExperts f)
        {
            var gu = f.gate_up_proj[e];
            return (gu.narrow(0, 0, _intermediate), gu.narrow(0, _intermediate, _intermediate), f.down_proj[e]);
        }
        var m = (IExpertMLP)((ModuleList<nn.Module>)experts)[e];
        return (m.GateProjection.weight!, m.UpProjection.weight!, m.DownProjection.weight!);
    }

    /// <summary>A family's term added to the experts' sum (Qwen2-MoE's shared expert); none here.</summary>
    private protected virtual Tensor? Extra(Tensor x) => null;
    private protected virtual void ExtraRows(ReadOnlySpan<float> x, Span<float> output, RowDecode r) { }
    private protected virtual void FuseExtra() { }

    /// <summary>x [..., H] -> [..., H].</summary>
    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var x2 = x.reshape(-1, _hidden);
        long n = x2.shape[0];
        bool inference = !is_grad_enabled();
        var logits = inference ? RowKernels.Linear(x2, gate.weight!, null) : gate.forward(x2);
        RouterLogitsObserver?.Invoke(logits);
        var (weights, chosen) = MoeRouting.Route(logits, _topK, _renormalize);
        var ids = chosen.cpu().data<long>().ToArray();
        var flatWeights = weights.to_type(x2.dtype).view(-1);
        var output = zeros_like(x2);
        // Tokens per expert, in token order (the reference's where(expert_mask[e]) order).
        var rows = new List<long>[_experts];
        var slots = new List<long>[_experts];
        for (int i = 0; i < ids.Length; i++)
        {
            int e = (int)ids[i];
            (rows[e] ??= []).Add(i / _topK);
            (slots[e] ??= []).Add(i);
        }
        var adapted = Adapter is not null && AdapterRows is { } ar && ar.Length == n && ar.Contains(true) ? ar : null;
        if (Adapter is not null && AdapterRows is { } bad && bad.Length != n)
            throw new ArgumentException($"AdapterRows has {bad.Length} rows, the input {n}");
        for (int e = 0; e < _experts; e++)
        {
            if (rows[e] is null) continue;
            if (adapted is not null && rows[e].Any(r => adapted[r]))
            {
                // Image rows of this expert through the adapter; its other rows stay on the base path below.
                var imageRows = rows[e].Where(r => adapted[r]).ToArray();
                var imageSlots = slots[e].Where((_, j) => adapted[rows[e][j]]).ToArray();
                var imageIndex = tensor(imageRows, device: x2.device);
                Tensor ya;
                if (inference && _gateUp is not null) ya = Adapter!.Expert(e, x2.index_select(0, imageIndex), _gateUpOf[e], _downOf[e], _intermediate);
                else
                {
                    var (g, u, d) = ExpertWeights(e);
                    ya = Adapter!.Expert(e, x2.index_select(0, imageIndex), g, u, d, _intermediate);
                }
                var wa = flatWeights.index_select(0, tensor(imageSlots, device: x2.device)).unsqueeze(1);
                output = output.index_add(0, imageIndex, ya * wa, 1);
                var textSlots = slots[e].Where((_, j) => !adapted[rows[e][j]]).ToList();
                rows[e] = rows[e].Where(r => !adapted[r]).ToList();
                slots[e] = textSlots;
                if (rows[e].Count == 0) continue;
            }
            var index = tensor(rows[e].ToArray(), device: x2.device);
            var xe = x2.index_select(0, index);
            Tensor y;
            if (inference && _gateUp is not null)
            {
                var gu = RowKernels.Linear(xe, _gateUpOf[e], null);
                y = RowKernels.Linear(gu.narrow(-1, 0, _intermediate).silu_().mul_(gu.narrow(-1, _intermediate, _intermediate)), _downOf[e], null);
            }
            else
            {
                var (g, u, d) = ExpertWeights(e);
                y = nn.functional.linear(nn.functional.silu(nn.functional.linear(xe, g)) * nn.functional.linear(xe, u), d);
            }
            var w = flatWeights.index_select(0, tensor(slots[e].ToArray(), device: x2.device)).unsqueeze(1);
            output = inference ? output.index_add_(0, index, y.mul_(w), 1) : output.index_add(0, index, y * w, 1);
        }
        if (Extra(x2) is { } extra) output = inference ? output.add_(extra) : output + extra;
        if (RoutingObserver is not null || _recorder is not null)
        {
            var chosenIds = Array.ConvertAll(ids, id => (int)id);
            RoutingObserver?.Invoke(chosenIds);
            _recorder?.Record(_recorderLayer, chosenIds, _topK, AdapterRows);
        }
        return output.view(x.shape).MoveToOuterDisposeScope();
    }

    private RoutingRecorder? _recorder;
    private int _recorderLayer;

    /// <summary>Routing statistics of the model's forwards (<see cref="LlamaForCausalLM.Routing"/>): this block is sparse layer <paramref name="layer"/>.</summary>
    internal void AttachRecorder(RoutingRecorder recorder, int layer)
    {
        _recorder = recorder;
        _recorderLayer = layer;
    }

    /// <summary>Moves the experts into the stacked inference layout (per-expert weights become views: no extra memory).</summary>
    internal void Fuse()
    {
        if (_gateUp is not null) return;
        using var noGrad = no_grad();
        if (experts is MoeExperts f)
        {
            _gateUp = f.gate_up_proj;
            _down = f.down_proj;
        }
        else
        {
            var list = (ModuleList<nn.Module>)experts;
            var gateUp = empty(_experts, 2L * _intermediate, _hidden).DetachFromDisposeScope();
            var down = empty(_experts, _hidden, _intermediate).DetachFromDisposeScope();
            for (int e = 0; e < _experts; e++)
            {
                var m = (IExpertMLP)list[e];
                // set_ makes each Linear share the stacked storage, as Fusion.FuseRows does for q/k/v.
                gateUp[e].narrow(0, 0, _intermediate).copy_(m.GateProjection.weight!);
                gateUp[e].narrow(0, _intermediate, _intermediate).copy_(m.UpProjection.weight!);
                down[e].copy_(m.DownProjection.weight!);
                m.GateProjection.weight!.set_(gateUp[e].narrow(0, 0, _intermediate));
                m.UpProjection.weight!.set_(gateUp[e].narrow(0, _intermediate, _intermediate));
                m.DownProjection.weight!.set_(down[e]);
            }
            _gateUp = gateUp;
            _down = down;
        }
        _gateUpOf = Enumerable.Range(0, _experts).Select(e => _gateUp[e].DetachFromDisposeScope()).ToArray();
        _downOf = Enumerable.Range(0, _experts).Select(e => _down[e].DetachFromDisposeScope()).ToArray();
        FuseExtra();
    }

    internal virtual bool IsFused => _gateUp is not null;

    /// <summary>
    /// Span decode of rows [rows, H]: router GEMM over all rows, each row's top-k, then per selected expert one
    /// gather of its rows, the gate/up GEMM, SwiGLU and the down GEMM (each expert's weights read once per step),
    /// added back weighted in expert order.
    /// </summary>
    internal void DecodeRows(ReadOnlySpan<float> x, Span<float> output, RowDecode r)
    {
        int rows = r.Rows, h = _hidden, n = _intermediate, k = _topK;
        var adapted = Adapter is not null && AdapterRows is { } ar && Array.IndexOf(ar, true) >= 0 ? ar : null;
        if (adapted is not null && adapted.Length != rows) throw new ArgumentException($"AdapterRows has {adapted.Length} rows, the input {rows}");
        if (_x.Length < rows * h)
        {
            _logits = new float[rows * _experts];
            _probabilities = new float[rows * _experts];
            _weights = new float[rows * k];
            _chosen = new int[rows * k];
            _order = new int[rows * k];
            _counts = new int[_experts + 1];
            _x = new float[rows * h];
            _y = new float[rows * h];
            _gu = new float[rows * 2 * n];
            _act = new float[rows * n];
        }
        RowKernels.Gemm(gate.weight!, null, x, _logits.AsSpan(0, rows * _experts), rows, r.Threads);
        for (int row = 0; row < rows; row++)
            MoeRouting.RouteRow(_logits.AsSpan(row * _experts, _experts), _probabilities.AsSpan(row * _experts, _experts), k, _renormalize,
                _chosen.AsSpan(row * k, k), _weights.AsSpan(row * k, k));
        // Counting sort of the (row, slot) pairs by expert, rows ascending within an expert.
        Array.Clear(_counts);
        for (int i = 0; i < rows * k; i++) _counts[_chosen[i] + 1]++;
        for (int e = 0; e < _experts; e++) _counts[e + 1] += _counts[e];
        var next = _counts.AsSpan(0, _experts).ToArray();
        for (int i = 0; i < rows * k; i++) _order[next[_chosen[i]]++] = i;

        output.Clear();
        for (int e = 0; e < _experts; e++)
        {
            int first = _counts[e], count = _counts[e + 1] - first;
            if (count == 0) continue;
            for (int j = 0; j < count; j++) x.Slice(_order[first + j] / k * h, h).CopyTo(_x.AsSpan(j * h, h));
            RowKernels.Gemm(_gateUpOf[e], null, _x.AsSpan(0, count * h), _gu.AsSpan(0, count * 2 * n), count, r.Threads);
            // The expert's image rows (if any) add their low-rank terms; its text rows keep exactly the base values.
            int adaptedRows = adapted is null ? 0 : GatherAdapted(adapted, first, count, k);
            if (adaptedRows > 0) AddLowRank(LoRAOf(e).GateUpA, LoRAOf(e).GateUpB, _x, h, _gu, 2 * n, adaptedRows, r.Threads);
            for (int j = 0; j < count; j++) SwiGlu.Apply(_gu.AsSpan(j * 2 * n, 2 * n), _act.AsSpan(j * n, n));
            RowKernels.Gemm(_downOf[e], null, _act.AsSpan(0, count * n), _y.AsSpan(0, count * h), count, r.Threads);
            if (adaptedRows > 0) AddLowRank(LoRAOf(e).DownA, LoRAOf(e).DownB, _act, n, _y, h, adaptedRows, r.Threads);
            for (int j = 0; j < count; j++)
            {
                int pair = _order[first + j];
                var o = output.Slice(pair / k * h, h);
                TensorPrimitives.MultiplyAdd(_y.AsSpan(j * h, h), _weights[pair], o, o);
            }
        }
        ExtraRows(x, output, r);
        if (RoutingObserver is not null || _recorder is not null)
        {
            var chosenIds = _chosen.AsSpan(0, rows * k).ToArray();
            RoutingObserver?.Invoke(chosenIds);
            _recorder?.Record(_recorderLayer, chosenIds, k, AdapterRows);
        }
    }

    // Per-expert views of the adapter's LoRA matrices for the span GEMMs, rebuilt when the adapter changes.
    private ExpertLoRA? _loraFor;
    private (Tensor GateUpA, Tensor GateUpB, Tensor DownA, Tensor DownB)[] _lora = [];
    private int[] _adaptedAt = [];
    private float[] _loraIn = [], _loraMid = [], _loraOut = [];

    private (Tensor GateUpA, Tensor GateUpB, Tensor DownA, Tensor DownB) LoRAOf(int e)
    {
        if (!ReferenceEquals(_loraFor, Adapter))
        {
            foreach (var v in _lora) { v.GateUpA.Dispose(); v.GateUpB.Dispose(); v.DownA.Dispose(); v.DownB.Dispose(); }
            var a = Adapter!;
            _lora = Enumerable.Range(0, _experts).Select(i => (
                a.gate_up_A.detach()[i].contiguous().DetachFromDisposeScope(), a.gate_up_B.detach()[i].contiguous().DetachFromDisposeScope(),
                a.down_A.detach()[i].contiguous().DetachFromDisposeScope(), a.down_B.detach()[i].contiguous().DetachFromDisposeScope())).ToArray();
            _loraFor = a;
        }
        return _lora[e];
    }

    /// <summary>The positions j (within this expert's gathered rows first..first+count) of image rows, into _adaptedAt; their count.</summary>
    private int GatherAdapted(bool[] adapted, int first, int count, int k)
    {
        if (_adaptedAt.Length < count) _adaptedAt = new int[Math.Max(count, 2 * _adaptedAt.Length)];
        int m = 0;
        for (int j = 0; j < count; j++)
            if (adapted[_order[first + j] / k]) _adaptedAt[m++] = j;
        return m;
    }

    /// <summary>
    /// y[j] += scale * B (A x[j]) for the <paramref name="m"/> adapted rows j of the expert's gathered rows (x [count,
    /// inWidth], y [count, outWidth]): one GEMM through A [r, in] and one through B [out, r] for all of them, so each
    /// expert's LoRA is read once per step.
    /// </summary>
    private void AddLowRank(Tensor a, Tensor b, float[] x, int inWidth, float[] y, int outWidth, int m, int threads)
    {
        int rank = (int)a.shape[0];
        if (_loraIn.Length < m * inWidth) _loraIn = new float[m * inWidth];
        if (_loraMid.Length < m * rank) _loraMid = new float[m * rank];
        if (_loraOut.Length < m * outWidth) _loraOut = new float[m * outWidth];
        for (int i = 0; i < m; i++) x.AsSpan(_adaptedAt[i] * inWidth, inWidth).CopyTo(_loraIn.AsSpan(i * inWidth, inWidth));
        RowKernels.Gemm(a, null, _loraIn.AsSpan(0, m * inWidth), _loraMid.AsSpan(0, m * rank), m, threads);
        RowKernels.Gemm(b, null, _loraMid.AsSpan(0, m * rank), _loraOut.AsSpan(0, m * outWidth), m, threads);
        float scale = (float)Adapter!.Scale;
        for (int i = 0; i < m; i++)
        {
            var row = y.AsSpan(_adaptedAt[i] * outWidth, outWidth);
            TensorPrimitives.MultiplyAdd(_loraOut.AsSpan(i * outWidth, outWidth), scale, row, row);
        }
    }
}
