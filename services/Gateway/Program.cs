using Gateway;
using Gateway.Batch;
using Gateway.WebUi;
using Platform.Batch;
using Platform.ServiceDefaults.Bus;

var builder = WebApplication.CreateBuilder(args);
builder.AddGateway();        // HTTP API; in all-in-one mode also the TextLlm and ImageGen workers
// Other services hosted by the gateway register here, before the bus is built.
builder.AddGatewayBatch();   // Files and Batch APIs (issue 5), batch items run through the chat endpoint
builder.AddPlatformBus();    // last: one bus from every service's contribution

var app = builder.Build();
app.MapGateway();
// Their endpoints map here.
app.MapBatchApi();
app.MapWebUi();         // the web UI at / (chat, judge, batches) on the public API
app.Run();

/// <summary>Entry point type, visible to tests.</summary>
public partial class Program;
