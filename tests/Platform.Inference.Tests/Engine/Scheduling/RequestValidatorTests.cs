using Platform.Inference.Engine;
using Platform.Inference.Engine.Scheduling;
using Xunit;

namespace Platform.Inference.Tests.Engine.Scheduling;

public class RequestValidatorTests
{
    private const int Vocabulary = 100;

    [Fact]
    public void Validate_Defaults_Passes()
    {
        RequestValidator.Validate(new GenerationRequest { Prompt = "x", Sampling = new SamplingOptions { LogitBias = new Dictionary<int, float> { [99] = 5 } } }, Vocabulary);
    }

    [Theory]
    [InlineData("MaxNewTokens", "MaxNewTokens must be positive, got 0")]
    [InlineData("Temperature", "Temperature must be >= 0, got -1")]
    [InlineData("TopK", "TopK must be >= 0, got -1")]
    [InlineData("TopP", "TopP must be in (0, 1], got 0")]
    [InlineData("MinP", "MinP must be in [0, 1), got 1")]
    [InlineData("RepetitionPenalty", "RepetitionPenalty must be > 0, got 0")]
    [InlineData("Logprobs", "Logprobs must be in [0, 20], got 21")]
    [InlineData("LogitBias", "logit_bias token 100 is outside the vocabulary (0..99)")]
    public void Validate_FieldOutOfRange_ThrowsNamingIt(string field, string message)
    {
        var sampling = new SamplingOptions();
        var request = new GenerationRequest { Prompt = "x" };
        request = field switch
        {
            "MaxNewTokens" => request with { MaxNewTokens = 0 },
            "Temperature" => request with { Sampling = sampling with { Temperature = -1 } },
            "TopK" => request with { Sampling = sampling with { TopK = -1 } },
            "TopP" => request with { Sampling = sampling with { TopP = 0 } },
            "MinP" => request with { Sampling = sampling with { MinP = 1 } },
            "RepetitionPenalty" => request with { Sampling = sampling with { RepetitionPenalty = 0 } },
            "Logprobs" => request with { Logprobs = 21 },
            _ => request with { Sampling = sampling with { LogitBias = new Dictionary<int, float> { [Vocabulary] = 1 } } },
        };
        var e = Assert.Throws<ArgumentException>(() => RequestValidator.Validate(request, Vocabulary));
        Assert.Equal(message, e.Message);
    }
}
