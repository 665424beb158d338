using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Platform.Contracts.Events;
using Platform.ServiceDefaults.Chat;

namespace Platform.ServiceDefaults.Dapr;

/// <summary>
/// In a process that routes requests (it has a <see cref="ModelDirectory"/>): publishes <see cref="WorkersUp"/> when a
/// worker appears in the directory and <see cref="WorkersDown"/> when it withdraws or its announcements lapse. Checked
/// on every directory change and once a second (a lapse changes nothing by itself). Every gateway replica sees the
/// same workers, so each event comes once per gateway replica; subscribers key on WorkerId.
/// </summary>
public sealed class WorkerEventsPublisher(IServiceProvider services, IPlatformEvents events, TimeProvider time) : BackgroundService
{
    private Dictionary<string, IReadOnlyList<string>> _known = new(StringComparer.Ordinal);
    private readonly HashSet<string> _withdrawn = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _changed = new(0);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (services.GetService<ModelDirectory>() is not { } directory) return;
        directory.Changed += () => _changed.Release();
        directory.Withdrawn += id => { lock (_withdrawn) _withdrawn.Add(id); };
        while (!stoppingToken.IsCancellationRequested)
        {
            await PublishChangesAsync(directory, stoppingToken);
            try { await _changed.WaitAsync(TimeSpan.FromSeconds(1), stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>Diffs the directory's live workers against the last pass and publishes the differences.</summary>
    public async Task PublishChangesAsync(ModelDirectory directory, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var current = directory.List()
            .SelectMany(m => m.Workers.Select(w => (Worker: w, Model: m.Name)))
            .GroupBy(x => x.Worker, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<string>)g.Select(x => x.Model).Order(StringComparer.Ordinal).ToList(), StringComparer.Ordinal);
        foreach (var (worker, models) in current)
            if (!_known.ContainsKey(worker))
                await events.PublishAsync(PlatformTopics.WorkersUp, new WorkersUp(worker, models, now), cancellationToken);
        foreach (var (worker, models) in _known)
            if (!current.ContainsKey(worker))
            {
                bool withdrew;
                lock (_withdrawn) withdrew = _withdrawn.Remove(worker);
                await events.PublishAsync(PlatformTopics.WorkersDown, new WorkersDown(worker, models, withdrew ? "withdrawn" : "expired", now), cancellationToken);
            }
        _known = current;
    }
}
