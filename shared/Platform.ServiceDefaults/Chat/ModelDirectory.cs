using System.Collections.Concurrent;
using Platform.Contracts.Models;

namespace Platform.ServiceDefaults.Chat;

/// <summary>
/// What the workers on the bus serve, learned from <see cref="ModelsAnnounced"/>. An entry lives until its
/// announcement's ValidFor runs out or the worker withdraws, so a killed worker disappears after one period.
/// </summary>
public sealed class ModelDirectory(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, (ModelsAnnounced Announcement, DateTimeOffset ExpiresAt)> _workers = new();

    public event Action? Changed;

    /// <summary>A worker said goodbye (before <see cref="Changed"/> fires for it).</summary>
    public event Action<string>? Withdrawn;

    public void Apply(ModelsAnnounced announced)
    {
        _workers[announced.WorkerId] = (announced, time.GetUtcNow() + announced.ValidFor);
        Changed?.Invoke();
    }

    public void Withdraw(string workerId)
    {
        if (!_workers.TryRemove(workerId, out _)) return;
        Withdrawn?.Invoke(workerId);
        Changed?.Invoke();
    }

    /// <summary>Every model some live worker serves, by name, with the announcing workers.</summary>
    public IReadOnlyList<AvailableModel> List()
    {
        var now = time.GetUtcNow();
        return _workers.Values
            .Where(w => w.ExpiresAt > now)
            .SelectMany(w => w.Announcement.Models.Select(m => (m, w.Announcement)))
            .GroupBy(x => x.m.Name, StringComparer.Ordinal)
            .Select(g => new AvailableModel(g.Key, g.First().m,
                g.Select(x => x.Announcement.WorkerId).Distinct().Order(StringComparer.Ordinal).ToList(),
                g.Min(x => x.Announcement.AnnouncedAt)))
            .OrderBy(m => m.Name, StringComparer.Ordinal)
            .ToList();
    }

    public AvailableModel? Find(string name) => List().FirstOrDefault(m => m.Name == name);
}

/// <summary>A model as the router sees it. <see cref="Model"/> is one worker's description (they agree per name).</summary>
public sealed record AvailableModel(string Name, ServedModel Model, IReadOnlyList<string> Workers, DateTimeOffset FirstSeen);
