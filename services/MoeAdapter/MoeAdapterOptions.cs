using System.ComponentModel.DataAnnotations;
using TextLlm;

namespace MoeAdapter;

/// <summary>Settings of the MoE worker, section "MoeAdapter": a generation worker's (a picture always leaves in a chunk
/// at once, whatever the coalescing) plus the routing analysis threshold.</summary>
public sealed class MoeAdapterOptions : GenerationWorkerOptions
{
    public const string Section = "MoeAdapter";

    /// <summary>An expert is modality-specific when that modality's share of it (both weighted equally) is at least this.</summary>
    [Range(0.5, 1.0)] public double SpecificExpertThreshold { get; set; } = 0.8;

    protected override string InstancePrefix => "moe";
}
