using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Platform.Browser.Tests;

/// <summary>
/// The all-in-one host with API keys required (Security:AdminKey set): one key is made through the admin API, and the
/// fixture's own client sends it. The page gets no key: a user enters it.
/// </summary>
public sealed class KeyedPlatformFixture : PlatformFixture
{
    public const string AdminKey = "browser-admin-key-0123456789";

    public string ApiKey { get; private set; } = "";

    protected override IReadOnlyDictionary<string, string> ExtraSettings { get; } = new Dictionary<string, string>
    {
        ["Security:AdminKey"] = AdminKey,
    };

    protected override async Task PrepareClientAsync()
    {
        using var admin = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(60) };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        using var response = await admin.PostAsJsonAsync("/admin/keys", new { tenant = "browser" });
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"POST /admin/keys: {(int)response.StatusCode} {body}");
        ApiKey = JsonDocument.Parse(body).RootElement.GetProperty("key").GetString()!;
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
    }
}

[CollectionDefinition(Name)]
public sealed class KeyedPlatformCollection : ICollectionFixture<KeyedPlatformFixture>
{
    public const string Name = "platform with API keys in a browser";
}
