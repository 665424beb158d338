using Platform.Inference.Models.Moe;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Inference.Models.Mixtral;

/// <summary>MixtralBlockSparseTop2MLP (modeling_mixtral.py): w2(silu(w1(x)) * w3(x)); w1 gate, w3 up, w2 down.</summary>
public sealed class MixtralBlockSparseTop2MLP : nn.Module<Tensor, Tensor>, IExpertMLP
{
    public readonly Linear w1;
    public readonly Linear w2;
    public readonly Linear w3;

    public MixtralBlockSparseTop2MLP(int hidden, int intermediate) : base(nameof(MixtralBlockSparseTop2MLP))
    {
        w1 = nn.Linear(hidden, intermediate, hasBias: false);
        w2 = nn.Linear(intermediate, hidden, hasBias: false);
        w3 = nn.Linear(hidden, intermediate, hasBias: false);
        RegisterComponents();
    }

    public Linear GateProjection => w1;
    public Linear UpProjection => w3;
    public Linear DownProjection => w2;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return w2.forward(nn.functional.silu(w1.forward(x)) * w3.forward(x)).MoveToOuterDisposeScope();
    }
}
