using Gateway;
using Gateway.Batch;
using Gateway.WebUi;
using Platform.Batch;
using Platform.ServiceDefaults.Bus;

// The HTTP edge alone (distributed mode, RabbitMQ by default): the workers run as their own services. The all-in-one
// host (services/AllInOne) composes the same registrations with the workers in process.
var builder = WebApplication.CreateBuilder(args);
builder.Configuration.AddJsonFile(Path.Combine(AppContext.BaseDirectory, GatewayExtensions.SettingsFile), optional: true);
builder.Configuration.AddEnvironmentVariables().AddCommandLine(args); // keep env and args above the file
builder.AddGateway();        // HTTP API: OpenAI endpoints, images, model directory
builder.AddGatewayBatch();   // Files and Batch APIs, batch items run through the chat endpoint
builder.AddPlatformBus();    // last: one bus from every service's contribution

var app = builder.Build();
app.MapGateway();
app.MapBatchApi();
app.MapWebUi();         // the web UI at / (chat, judge, batches) on the public API
app.Run();

/// <summary>Entry point type, visible to tests.</summary>
public partial class Program;
