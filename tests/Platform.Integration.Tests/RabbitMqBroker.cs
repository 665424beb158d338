using System.Net.Sockets;

namespace Platform.Integration.Tests;

/// <summary>
/// The broker these tests need, on 127.0.0.1:5672 (scripts/test.sh starts it with scripts/rabbitmq.sh). Without it the
/// tests skip with a message, except under CI=true, where they fail.
/// </summary>
public static class RabbitMqBroker
{
    public const string Host = "127.0.0.1";
    public const int Port = 5672;

    private static readonly Lazy<bool> Reachable = new(() =>
    {
        try
        {
            using var client = new TcpClient();
            return client.ConnectAsync(Host, Port).Wait(TimeSpan.FromSeconds(3)) && client.Connected;
        }
        catch (Exception ex) when (ex is SocketException or AggregateException)
        {
            return false;
        }
    });

    public static void Require()
    {
        if (Reachable.Value) return;
        var message = $"RabbitMQ is not reachable on {Host}:{Port}. Start it with scripts/rabbitmq.sh start (or run scripts/test.sh).";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            Assert.Fail(message + " CI=true: the RabbitMQ integration tests must run.");
        Skip.If(true, message);
    }
}
