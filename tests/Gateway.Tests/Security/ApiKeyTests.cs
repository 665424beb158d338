using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace Gateway.Tests.Security;

/// <summary>Keys at the gateway: missing, wrong and revoked keys get 401; the admin API creates, lists and revokes.</summary>
public class ApiKeyTests(SecuredGatewayFixture fixture) : IClassFixture<SecuredGatewayFixture>
{
    private static async Task<(HttpStatusCode Status, JsonNode? Body, HttpResponseMessage Response)> GetAsync(HttpClient http, string path)
    {
        var response = await http.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length > 0 ? JsonNode.Parse(text) : null, response);
    }

    [Fact]
    public async Task Request_WithoutKey_Returns401MissingApiKey()
    {
        var (status, body, response) = await GetAsync(fixture.Client(null), "/v1/models");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("missing_api_key", body!["error"]!["code"]!.GetValue<string>());
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Theory]
    [InlineData("sk-not-a-key")]
    [InlineData(SecuredGatewayFixture.AdminKey)] // the admin key is not an API key
    public async Task Request_WithWrongKey_Returns401InvalidApiKey(string key)
    {
        var (status, body, _) = await GetAsync(fixture.Client(key), "/v1/models");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("invalid_api_key", body!["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Request_WithRevokedKey_Returns401LikeAWrongKey()
    {
        var (id, key) = await fixture.CreateKeyAsync(new JsonObject { ["tenant"] = "revoked", ["name"] = "short-lived" });
        var http = fixture.Client(key);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, "/v1/models")).Status);

        using var revoked = await fixture.Client(SecuredGatewayFixture.AdminKey).DeleteAsync($"/admin/keys/{id}");
        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        Assert.NotNull(JsonNode.Parse(await revoked.Content.ReadAsStringAsync())!["revoked_at"]);

        var (status, body, _) = await GetAsync(http, "/v1/models");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("invalid_api_key", body!["error"]!["code"]!.GetValue<string>());
        // Chat and the Batch API are behind the same gate.
        using var chat = await http.PostAsync("/v1/chat/completions", new StringContent(
            $$"""{"model":"{{GatewayHost.Model}}","messages":[{"role":"user","content":"hi"}],"max_tokens":2}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Unauthorized, chat.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(http, "/v1/batches")).Status);
    }

    [Fact]
    public async Task Chat_WithValidKey_Answers200()
    {
        var http = await fixture.TenantClientAsync("chatter");
        using var response = await http.PostAsync("/v1/chat/completions", new StringContent(
            $$"""{"model":"{{GatewayHost.Model}}","messages":[{"role":"user","content":"hi"}],"max_tokens":3}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("chat.completion", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["object"]!.GetValue<string>());
    }

    [Fact]
    public async Task HealthAndLiveness_WithoutKey_StayOpen()
    {
        Assert.Equal(HttpStatusCode.OK, (await fixture.Client(null).GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fixture.Client(null).GetAsync("/alive")).StatusCode);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-admin-key")]
    public async Task AdminApi_WithoutAdminKey_Returns401(string? key)
    {
        using var response = await fixture.Client(key).PostAsJsonAsync("/admin/keys", new { tenant = "x" });
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("invalid_admin_key", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task AdminApi_ApiKeyInsteadOfAdminKey_Returns401()
    {
        var (_, key) = await fixture.CreateKeyAsync(new JsonObject { ["tenant"] = "not-admin" });
        using var response = await fixture.Client(key).GetAsync("/admin/keys");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task AdminApi_List_ShowsPrefixesAndNeverTheKeys()
    {
        var (id, key) = await fixture.CreateKeyAsync(new JsonObject { ["tenant"] = "listed", ["models"] = new JsonArray("tiny") });
        var text = await fixture.Client(SecuredGatewayFixture.AdminKey).GetStringAsync("/admin/keys");
        Assert.DoesNotContain(key, text, StringComparison.Ordinal);
        var entry = JsonNode.Parse(text)!["data"]!.AsArray().Single(k => k!["id"]!.GetValue<string>() == id)!;
        Assert.Equal("listed", entry["tenant"]!.GetValue<string>());
        Assert.StartsWith(entry["prefix"]!.GetValue<string>(), key, StringComparison.Ordinal);
        Assert.Equal(["tiny"], entry["models"]!.AsArray().Select(m => m!.GetValue<string>()));
        Assert.Null(entry["key"]);
    }

    [Theory]
    [InlineData("""{"name":"no tenant"}""", "tenant", "missing_required_parameter")]
    [InlineData("""{"tenant":"Upper Case"}""", "tenant", "invalid_value")]
    [InlineData("""{"tenant":"a\u0000b"}""", "tenant", "invalid_value")]
    [InlineData("""{"tenant":"ok","models":"tiny"}""", "models", "invalid_value")]
    [InlineData("""{"tenant":"ok","models":[1]}""", "models", "invalid_value")]
    [InlineData("""{"tenant":"ok","requests_per_minute":-1}""", "requests_per_minute", "invalid_value")]
    [InlineData("""{"tenant":"ok","tokens_per_minute":1.5}""", "tokens_per_minute", "invalid_value")]
    [InlineData("""{"tenant":"ok","name":7}""", "name", "invalid_value")]
    [InlineData("""{"tenant":"ok","owner":"me"}""", "owner", "unknown_parameter")]
    public async Task AdminApi_CreateWithBadBody_Returns400NamingTheParameter(string body, string param, string code)
    {
        using var response = await fixture.Client(SecuredGatewayFixture.AdminKey)
            .PostAsync("/admin/keys", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal(param, error["param"]!.GetValue<string>());
        Assert.Equal(code, error["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task AdminApi_RevokeUnknownKey_Returns404()
    {
        using var response = await fixture.Client(SecuredGatewayFixture.AdminKey).DeleteAsync("/admin/keys/key_000000000000000000000000");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task KeyStore_StoresOnlyTheHash()
    {
        var (id, key) = await fixture.CreateKeyAsync(new JsonObject { ["tenant"] = "hashed" });
        var store = fixture.Host.App.Services.GetRequiredService<Gateway.Security.ApiKeyStore>();
        var record = await store.GetAsync(id, default);
        Assert.Equal(Gateway.Security.ApiKeyTokens.Hash(key), record!.Hash);
        Assert.DoesNotContain(key, System.Text.Json.JsonSerializer.Serialize(record), StringComparison.Ordinal);
    }
}
