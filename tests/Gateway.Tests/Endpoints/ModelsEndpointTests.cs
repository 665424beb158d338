using System.Net;
using System.Text.Json.Nodes;

namespace Gateway.Tests.Endpoints;

public class ModelsEndpointTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    [Fact]
    public async Task List_AfterWorkerAnnounced_ContainsTheServedModel()
    {
        var body = JsonNode.Parse(await fixture.Host.Http.GetStringAsync("/v1/models"))!;
        Assert.Equal("list", body["object"]!.GetValue<string>());
        var model = Assert.Single(body["data"]!.AsArray())!;
        Assert.Equal(GatewayHost.Model, model["id"]!.GetValue<string>());
        Assert.Equal("model", model["object"]!.GetValue<string>());
        Assert.True(model["created"]!.GetValue<long>() > 1_700_000_000);
        Assert.Equal("platform", model["owned_by"]!.GetValue<string>());
    }

    [Fact]
    public async Task Get_KnownModel_Returns200()
    {
        var response = await fixture.Host.Http.GetAsync($"/v1/models/{GatewayHost.Model}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(GatewayHost.Model, JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task Get_UnknownModel_Returns404ModelNotFound()
    {
        var response = await fixture.Host.Http.GetAsync("/v1/models/nope");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal("model_not_found", error["code"]!.GetValue<string>());
        Assert.Equal("invalid_request_error", error["type"]!.GetValue<string>());
    }
}
