using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.RateLimiting;

namespace Gateway.Security;

/// <summary>What a limit is counted in: interactive requests, their tokens, or requests to the Files and Batch APIs.</summary>
public enum RateKind { Requests, Tokens, BatchRequests }

/// <summary>One limit's state after an admission: for the x-ratelimit-* headers, and Retry-After when refused.</summary>
public sealed record RateDecision(bool Allowed, long Limit, long Remaining, TimeSpan Reset, TimeSpan? RetryAfter, bool TooLarge = false);

/// <summary>
/// Per-key limits per minute on System.Threading.RateLimiting's token bucket (the framework's rate limiter): capacity
/// = the limit, refilled at the limit per minute in small steps, so a key may burst to its limit and then goes at its
/// rate. One bucket per key and kind in this process: with several gateway replicas each counts its own traffic.
/// </summary>
public sealed class KeyRateLimiter : IDisposable
{
    private readonly ConcurrentDictionary<(string Key, RateKind Kind, long Limit), Bucket> _buckets = new();

    private sealed record Bucket(TokenBucketRateLimiter Limiter, long Limit, int PerPeriod, TimeSpan Period);

    /// <summary>Takes <paramref name="permits"/> from the key's bucket of <paramref name="kind"/>.</summary>
    public RateDecision Acquire(string keyId, RateKind kind, long limit, int permits)
    {
        var bucket = _buckets.GetOrAdd((keyId, kind, limit), k => Create(k.Limit));
        if (permits > bucket.Limit)
            return new RateDecision(false, bucket.Limit, Available(bucket), ResetOf(bucket), null, TooLarge: true);
        using var lease = bucket.Limiter.AttemptAcquire(permits);
        if (lease.IsAcquired) return new RateDecision(true, bucket.Limit, Available(bucket), ResetOf(bucket), null);
        var retry = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : bucket.Period;
        return new RateDecision(false, bucket.Limit, Available(bucket), ResetOf(bucket), retry);
    }

    private static long Available(Bucket b) => Math.Max(0, b.Limiter.GetStatistics()?.CurrentAvailablePermits ?? 0);

    /// <summary>Time until the bucket is full again (OpenAI's x-ratelimit-reset-*).</summary>
    private static TimeSpan ResetOf(Bucket b)
    {
        var missing = b.Limit - Available(b);
        if (missing <= 0) return TimeSpan.Zero;
        var periods = (missing + b.PerPeriod - 1) / b.PerPeriod;
        return b.Period * periods;
    }

    /// <summary>
    /// Refills in steps of ceil(limit/60) permits every 60 s x step / limit: exactly the limit per minute, at most one
    /// refill a second (a timer per bucket), and for small limits one permit at a time (3/min: one every 20 s).
    /// </summary>
    private static Bucket Create(long limit)
    {
        var perPeriod = (int)Math.Min(int.MaxValue, (limit + 59) / 60);
        var period = TimeSpan.FromTicks(TimeSpan.FromMinutes(1).Ticks * perPeriod / limit);
        var limiter = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = (int)Math.Min(int.MaxValue, limit), TokensPerPeriod = perPeriod, ReplenishmentPeriod = period,
            QueueLimit = 0, AutoReplenishment = true,
        });
        return new Bucket(limiter, limit, perPeriod, period);
    }

    /// <summary>OpenAI's duration format in the reset headers: "20ms", "1s", "6m0s".</summary>
    public static string FormatDuration(TimeSpan t)
    {
        if (t < TimeSpan.FromSeconds(1)) return ((long)Math.Ceiling(t.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "ms";
        var seconds = (long)Math.Ceiling(t.TotalSeconds);
        return seconds < 60
            ? seconds.ToString(CultureInfo.InvariantCulture) + "s"
            : $"{seconds / 60}m{seconds % 60}s";
    }

    public void Dispose()
    {
        foreach (var b in _buckets.Values) b.Limiter.Dispose();
    }
}
