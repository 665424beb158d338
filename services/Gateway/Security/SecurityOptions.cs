using System.ComponentModel.DataAnnotations;

namespace Gateway.Security;

/// <summary>Who may call the gateway and how much, section "Security"; validated on start.</summary>
public sealed class SecurityOptions
{
    public const string Section = "Security";

    /// <summary>
    /// The key of the admin API (/admin/keys: create, list, revoke API keys). Setting it closes the gateway: every /v1
    /// request then needs an API key. Without it and without stored keys the gateway is open (loopback only).
    /// </summary>
    public string? AdminKey { get; set; }

    /// <summary>Allows an open gateway (no keys) on a non-loopback address; without it such a start is refused.</summary>
    public bool AllowOpen { get; set; }

    /// <summary>Requests per minute of a key created without its own limit; 0 = unlimited.</summary>
    [Range(0, int.MaxValue)] public int DefaultRequestsPerMinute { get; set; }

    /// <summary>Tokens per minute (estimated at admission: prompt characters / 4 + max_tokens); 0 = unlimited.</summary>
    [Range(0, int.MaxValue)] public int DefaultTokensPerMinute { get; set; }

    /// <summary>Requests per minute to the Files and Batch APIs, counted apart from interactive requests; 0 = unlimited.</summary>
    [Range(0, int.MaxValue)] public int DefaultBatchRequestsPerMinute { get; set; }

    /// <summary>Origins allowed to call the API from a browser (CORS), e.g. "https://app.example.com"; none by default.</summary>
    public string[] CorsOrigins { get; set; } = [];

    /// <summary>Most messages in one chat request (OpenAI: 2048).</summary>
    [Range(1, 1_000_000)] public int MaxMessages { get; set; } = 2048;

    /// <summary>Most tools in one request (OpenAI: 128).</summary>
    [Range(0, 10_000)] public int MaxTools { get; set; } = 128;

    /// <summary>Largest "tools" and "response_format" JSON (function parameters and schemas), each, in bytes.</summary>
    [Range(1, int.MaxValue)] public int MaxSchemaBytes { get; set; } = 64 * 1024;

    /// <summary>Kestrel: most open connections (a slow or idle client holds one); beyond it new ones are closed.</summary>
    [Range(1, 1_000_000)] public long MaxConcurrentConnections { get; set; } = 1024;

    /// <summary>Kestrel: time a client has to send the request headers.</summary>
    [Range(1, 3600)] public int RequestHeadersTimeoutSeconds { get; set; } = 15;

    /// <summary>Kestrel: an idle keep-alive connection is closed after this long.</summary>
    [Range(1, 3600)] public int KeepAliveTimeoutSeconds { get; set; } = 60;
}
