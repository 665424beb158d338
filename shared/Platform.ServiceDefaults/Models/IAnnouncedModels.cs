using Platform.Contracts.Models;

namespace Platform.ServiceDefaults.Models;

/// <summary>What a worker tells the routers about itself: who it is, which models it serves, how often it says so.</summary>
public interface IAnnouncedModels
{
    /// <summary>The service kind in <see cref="ModelsAnnounced"/> ("text-llm", "judge", ...).</summary>
    string ServiceName { get; }

    /// <summary>This worker process's id: its announcements replace each other, its withdrawal removes them.</summary>
    string WorkerId { get; }

    /// <summary>Time between announcements; each one stays valid for three of these.</summary>
    TimeSpan AnnounceInterval { get; }

    /// <summary>The models served now (loaded ones only).</summary>
    IReadOnlyList<ServedModel> Describe();
}
