namespace Platform.Bench.Engine;

/// <summary>Peak resident set size from /proc/self/status (Linux).</summary>
internal static class ProcessMemory
{
    /// <summary>VmHWM in MiB, or null where /proc is not available.</summary>
    public static double? PeakRssMiB() => ReadKiB("VmHWM:") / 1024.0;

    public static double? CurrentRssMiB() => ReadKiB("VmRSS:") / 1024.0;

    /// <summary>
    /// Resets VmHWM to the current RSS (writing "5" to /proc/self/clear_refs, Linux >= 4.0), so a later peak
    /// measures one phase only. Returns false where that is not possible.
    /// </summary>
    public static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static double? ReadKiB(string key)
    {
        const string path = "/proc/self/status";
        if (!File.Exists(path)) return null;
        foreach (var line in File.ReadLines(path))
            if (line.StartsWith(key, StringComparison.Ordinal))
                return double.Parse(line[key.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        return null;
    }
}
