namespace Platform.Inference.Models.Llama;

/// <summary>
/// Buffers and per-step state of the span decode path (<see cref="LlamaForCausalLM.Forward"/> takes it for one new
/// token per sequence, CPU float32): row-major [rows, width] buffers grown to the largest batch seen, reused every step.
/// </summary>
internal sealed class RowDecode
{
    private readonly LlamaConfig _config;
    private readonly int _groups;
    private int _capacity;

    public RowDecode(LlamaConfig config)
    {
        _config = config;
        _groups = config.NumAttentionHeads / config.KeyValueHeads;
        QkvWidth = (config.NumAttentionHeads + 2 * config.KeyValueHeads) * config.HeadDimension;
        RotaryDim = config.RotaryDimension;
    }

    public int QkvWidth { get; }
    /// <summary>Leading dims of each head the rotary turns (<see cref="LlamaConfig.RotaryDimension"/>).</summary>
    public int RotaryDim { get; }
    /// <summary>Rows (sequences) in this step.</summary>
    public int Rows { get; private set; }
    public float[] Hidden { get; private set; } = [];
    public float[] Normed { get; private set; } = [];
    public float[] Projected { get; private set; } = [];
    public float[] Qkv { get; private set; } = [];
    public float[] Attention { get; private set; } = [];
    public float[] GateUp { get; private set; } = [];
    public float[] Activated { get; private set; } = [];
    /// <summary>[rows, head_dim] scratch for the rotary.</summary>
    public float[] HeadScratch { get; private set; } = [];
    /// <summary>cos and sign-folded sin rows [rows, rotary_dim] at each row's position.</summary>
    public float[] Cos { get; private set; } = [];
    public float[] Sin { get; private set; } = [];
    /// <summary>Attention scores, per row one kv group's query heads x the longest context seen.</summary>
    private float[] _scores = [];
    private int _scoresPerRow;

    /// <summary>Row <paramref name="row"/>'s scores buffer (rows attend in parallel).</summary>
    public Span<float> ScoresOf(int row) => _scores.AsSpan(row * _scoresPerRow, _scoresPerRow);

    /// <summary>This step: the cache, the slot of row 0 (row b uses slot FirstSlot + b), each row's new cache index
    /// (the row attends to cache indices 0..it), each row's rotary position, and the threads for the GEMMs.</summary>
    public KvCache Cache { get; private set; } = null!;
    public int FirstSlot { get; private set; }
    public long[] Positions { get; private set; } = [];
    /// <summary>Each row's rotary position: its cache index, unless the caller gave position ids (after a prompt
    /// with sets the positions lag the cache indices, see <see cref="Engine.SetLayout"/>).</summary>
    public long[] RotaryPositions { get; private set; } = [];
    public int Threads { get; private set; }

    public void Begin(KvCache cache, int firstSlot, long[] positions, long[] rotaryPositions, int threads)
    {
        if (rotaryPositions.Length != positions.Length)
            throw new ArgumentException($"{rotaryPositions.Length} rotary positions for {positions.Length} rows");
        Cache = cache;
        FirstSlot = firstSlot;
        Positions = positions;
        RotaryPositions = rotaryPositions;
        Threads = threads;
        int rows = positions.Length;
        if (rows > _capacity)
        {
            _capacity = rows;
            int h = _config.HiddenSize, d = _config.HeadDimension;
            Hidden = new float[rows * h];
            Normed = new float[rows * h];
            Projected = new float[rows * h];
            Qkv = new float[rows * QkvWidth];
            Attention = new float[rows * _config.NumAttentionHeads * d];
            GateUp = new float[rows * 2 * _config.IntermediateSize];
            Activated = new float[rows * _config.IntermediateSize];
            Cos = new float[rows * d];
            Sin = new float[rows * d];
            HeadScratch = new float[rows * d];
        }
        Rows = rows;
        // Grow the per-row length geometrically with the context, and the buffer with the rows; never one for the other.
        int perRow = (int)(positions.Max() + 1) * _groups;
        if (perRow > _scoresPerRow) _scoresPerRow = Math.Max(perRow, 2 * _scoresPerRow);
        if (_scores.Length < _capacity * _scoresPerRow) _scores = new float[_capacity * _scoresPerRow];
    }

    private readonly float[][] _scratch = [[], []];

    /// <summary>Scratch buffer <paramref name="which"/> (0 or 1) of at least <paramref name="length"/> floats, kept between steps.</summary>
    public Span<float> Scratch(int which, int length)
    {
        if (_scratch[which].Length < length) _scratch[which] = new float[length];
        return _scratch[which].AsSpan(0, length);
    }

    /// <summary>The first <see cref="Rows"/> rows of a [capacity, width] buffer.</summary>
    public Span<float> Used(float[] buffer, int width) => buffer.AsSpan(0, Rows * width);
}
