using System.Security.Cryptography;
using System.Text;

namespace Gateway.Security;

/// <summary>
/// API key strings: "sk-" + 43 base64url characters (32 random bytes). Stored as the SHA-256 of the key: with 256
/// random bits per key a slow password hash (PBKDF2, Argon2) adds nothing against guessing, and a fast one lets the
/// gateway look the key up by its hash on every request (GitHub's and Stripe's tokens work the same way).
/// </summary>
public static class ApiKeyTokens
{
    public const string KeyPrefix = "sk-";

    public static string NewKey() => KeyPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    public static string NewId() => "key_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>What listings show of a key: its first characters.</summary>
    public static string Prefix(string key) => key[..Math.Min(key.Length, KeyPrefix.Length + 6)];

    /// <summary>Constant-time comparison of two secrets (the admin key).</summary>
    public static bool SecretEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(a)), SHA256.HashData(Encoding.UTF8.GetBytes(b)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
