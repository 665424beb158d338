using Gateway;
using Gateway.Batch;
using Gateway.WebUi;
using ImageGen;
using Judge;
using MoeAdapter;
using Platform.Batch;
using Platform.ServiceDefaults.Bus;
using TextLlm;

// Everything in one process on the in-memory bus (appsettings.json): the default way to run the platform.
var builder = WebApplication.CreateBuilder(args);
builder.AddGateway();          // HTTP edge: OpenAI API, images, model directory
builder.AddTextLlmWorker();    // the text worker with the models of the registry
builder.AddImageGenWorker();   // the multimodal image worker
builder.AddJudgeWorker(requireModels: false); // the judge worker (demo-judge)
builder.AddMoeAdapterWorker(requireModels: false); // the MoE worker (demo-moe: text and pictures as image tokens)
builder.AddGatewayBatch();     // Files and Batch APIs, batch items through the chat endpoint
builder.AddPlatformBus();      // last: one bus from every service's contribution

var app = builder.Build();
app.MapGateway();
app.MapBatchApi();
app.MapWebUi();                // the web UI at / (chat, judge, batches) on the public API
app.Run();

/// <summary>Entry point type, visible to tests.</summary>
public partial class Program;
