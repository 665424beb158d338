using Microsoft.Extensions.Options;
using Platform.Batch.Tenancy;

namespace Gateway.Images;

/// <summary>
/// Produced PNGs by id, in memory, bounded by total bytes and count, least recently used evicted first. Hand-written
/// (a lock, a dictionary and a linked list) because MemoryCache with a SizeLimit refuses a new entry when full instead
/// of evicting for it, which would lose the image of the answer being written. Memory rather than disk: the demo
/// model's PNGs are ~1 KB, so the default 256 MiB holds far more than a gateway serves before a restart; several
/// gateways behind a balancer use <see cref="SharedImageStore"/> (Images:Store = Database or Dapr) instead.
/// </summary>
public sealed class ImageStore(IOptions<ImageServingOptions> options) : IImageStore
{
    public Task<string> AddAsync(byte[] png, CancellationToken cancellationToken) => Task.FromResult(Add(png));

    public Task<byte[]?> GetAsync(string id, CancellationToken cancellationToken) => Task.FromResult(Get(id));

    private readonly Lock _gate = new();
    private readonly Dictionary<string, LinkedListNode<(string Id, byte[] Png, string Tenant)>> _byId = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Id, byte[] Png, string Tenant)> _recency = new();
    private long _bytes;

    public int Count { get { lock (_gate) return _byId.Count; } }
    public long Bytes { get { lock (_gate) return _bytes; } }

    /// <summary>Stores a PNG and returns its new id ("img-" + 32 hex digits).</summary>
    public string Add(byte[] png)
    {
        var o = options.Value;
        if (png.Length > o.MaxStoreBytes)
            throw new ArgumentException($"A {png.Length}-byte image exceeds Images:MaxStoreBytes ({o.MaxStoreBytes}).", nameof(png));
        var id = $"img-{Guid.NewGuid():N}";
        lock (_gate)
        {
            while (_recency.Last is { } oldest && (_bytes + png.Length > o.MaxStoreBytes || _byId.Count >= o.MaxStoredImages))
            {
                _recency.RemoveLast();
                _byId.Remove(oldest.Value.Id);
                _bytes -= oldest.Value.Png.Length;
            }
            _byId[id] = _recency.AddFirst((id, png, TenantContext.Current));
            _bytes += png.Length;
        }
        return id;
    }

    public byte[]? Get(string id)
    {
        lock (_gate)
        {
            // Another tenant's image is "not found" (and keeps its place in the recency order).
            if (!_byId.TryGetValue(id, out var node) || node.Value.Tenant != TenantContext.Current) return null;
            _recency.Remove(node);
            _recency.AddFirst(node);
            return node.Value.Png;
        }
    }
}
