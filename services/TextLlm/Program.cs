using Platform.ServiceDefaults;
using Platform.ServiceDefaults.Bus;
using TextLlm;

var builder = WebApplication.CreateBuilder(args);
builder.Configuration.AddJsonFile(Path.Combine(AppContext.BaseDirectory, TextLlmExtensions.SettingsFile), optional: true);
builder.Configuration.AddEnvironmentVariables().AddCommandLine(args); // keep env and args above the file
builder.AddServiceDefaults("text-llm");
builder.AddTextLlmWorker();
builder.AddPlatformBus();

var app = builder.Build();
app.MapServiceDefaults();
app.Run();
