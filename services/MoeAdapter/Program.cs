using MoeAdapter;
using Platform.ServiceDefaults;
using Platform.ServiceDefaults.Bus;

var builder = WebApplication.CreateBuilder(args);
builder.Configuration.AddJsonFile(Path.Combine(AppContext.BaseDirectory, MoeAdapterExtensions.SettingsFile), optional: true);
builder.Configuration.AddEnvironmentVariables().AddCommandLine(args); // keep env and args above the file
builder.AddServiceDefaults("moe-adapter");
builder.AddMoeAdapterWorker();
builder.AddPlatformBus();

var app = builder.Build();
app.MapServiceDefaults();
app.Run();
