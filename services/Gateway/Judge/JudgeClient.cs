using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.Options;
using Platform.Contracts.Chat;
using Platform.Contracts.Judge;
using Platform.ServiceDefaults.Chat;

namespace Gateway.Judge;

/// <summary>Sends judge requests to a judge model's queue (judge-{model}) and waits for the verdict.</summary>
public sealed class JudgeClient(IBus bus, IOptions<JudgeApiOptions> options)
{
    private readonly ConcurrentDictionary<string, IRequestClient<RateResponse>> _rate = new();
    private readonly ConcurrentDictionary<string, IRequestClient<CompareResponses>> _compare = new();

    private RequestTimeout Timeout => RequestTimeout.After(ms: (int)(options.Value.RequestTimeoutSeconds * 1000));

    public async Task<ResponseRated> RateAsync(RateResponse request, CancellationToken ct)
    {
        var client = _rate.GetOrAdd(request.Model, m => bus.CreateRequestClient<RateResponse>(JudgeQueues.AddressForModel(m), Timeout));
        var response = await Send(request.Model, () => client.GetResponse<ResponseRated, JudgeRequestRejected>(request, ct));
        if (response.Is(out Response<ResponseRated>? ok) && ok is not null) return ok.Message;
        throw Rejection(response);
    }

    public async Task<ResponsesCompared> CompareAsync(CompareResponses request, CancellationToken ct)
    {
        var client = _compare.GetOrAdd(request.Model, m => bus.CreateRequestClient<CompareResponses>(JudgeQueues.AddressForModel(m), Timeout));
        var response = await Send(request.Model, () => client.GetResponse<ResponsesCompared, JudgeRequestRejected>(request, ct));
        if (response.Is(out Response<ResponsesCompared>? ok) && ok is not null) return ok.Message;
        throw Rejection(response);
    }

    private static ChatCompletionException Rejection<T>(Response<T, JudgeRequestRejected> response) where T : class =>
        response.Is(out Response<JudgeRequestRejected>? rejected) && rejected is not null
            ? new ChatCompletionException(rejected.Message.Code, rejected.Message.Message, rejected.Message.Param)
            : new ChatCompletionException(ChatErrorCodes.ServerError, "The judge sent an unexpected response.");

    private async Task<Response<T1, T2>> Send<T1, T2>(string model, Func<Task<Response<T1, T2>>> call) where T1 : class where T2 : class
    {
        try
        {
            return await call();
        }
        catch (RequestTimeoutException ex)
        {
            throw new ChatCompletionException(ChatErrorCodes.WorkerUnavailable,
                $"No judge worker for model '{model}' answered within {options.Value.RequestTimeoutSeconds:0.#} s.", null, ex);
        }
        catch (RequestFaultException ex)
        {
            throw new ChatCompletionException(ChatErrorCodes.ServerError,
                $"The judge failed: {string.Join("; ", ex.Fault?.Exceptions.Select(e => e.Message) ?? [])}", null, ex);
        }
    }
}

/// <summary>Settings of the judge API, section "JudgeApi".</summary>
public sealed class JudgeApiOptions
{
    public const string Section = "JudgeApi";

    /// <summary>How long the gateway waits for one judgement (a long critique on a large judge takes minutes).</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 3600)] public double RequestTimeoutSeconds { get; set; } = 300;
}
