using Dapr.Client;
using Microsoft.Extensions.Configuration;

namespace Platform.ServiceDefaults.Dapr;

/// <summary>
/// Configuration from the Dapr secret store, added last so it overrides environment variables: the broker secret's
/// username / password become Bus:RabbitMq:Username / Password, the database secret's password Batch:Password.
/// Read once at start (waiting for the sidecar up to Dapr:SidecarWaitSeconds); a missing sidecar or secret fails the
/// start with the reason rather than running with the wrong credentials.
/// </summary>
public sealed class DaprSecretsConfigurationSource(DaprOptions options, Func<DaprClient> client) : IConfigurationSource
{
    public IConfigurationProvider Build(IConfigurationBuilder builder) => new Provider(options, client);

    private sealed class Provider(DaprOptions options, Func<DaprClient> clientFactory) : ConfigurationProvider
    {
        public override void Load() => LoadAsync().GetAwaiter().GetResult();

        private async Task LoadAsync()
        {
            using var client = clientFactory();
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(Math.Max(1, options.SidecarWaitSeconds)));
            try
            {
                await client.WaitForSidecarAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                // WaitForSidecarAsync polls the sidecar's HTTP health endpoint; the gRPC calls below give the precise error.
            }
            var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            if (!string.IsNullOrEmpty(options.BrokerSecret))
            {
                var broker = await Read(client, options.BrokerSecret);
                data["Bus:RabbitMq:Username"] = Required(broker, options.BrokerSecret, "username");
                data["Bus:RabbitMq:Password"] = Required(broker, options.BrokerSecret, "password");
            }
            if (!string.IsNullOrEmpty(options.DatabaseSecret))
                data["Batch:Password"] = Required(await Read(client, options.DatabaseSecret), options.DatabaseSecret, "password");
            Data = data;
        }

        private async Task<Dictionary<string, string>> Read(DaprClient client, string secret)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(Math.Max(5, options.SidecarWaitSeconds)));
                return await client.GetSecretAsync(options.SecretStore, secret, cancellationToken: timeout.Token);
            }
            catch (Exception ex) when (ex is global::Dapr.DaprException or OperationCanceledException)
            {
                throw new InvalidOperationException(
                    $"Dapr:Enabled is set but secret '{secret}' could not be read from the Dapr secret store '{options.SecretStore}': {ex.Message}", ex);
            }
        }

        private static string Required(Dictionary<string, string> values, string secret, string key) =>
            values.TryGetValue(key, out var v) && !string.IsNullOrEmpty(v)
                ? v
                : throw new InvalidOperationException($"Dapr secret '{secret}' has no '{key}' key.");
    }
}
