using Gateway.Images;
using Microsoft.Extensions.Options;
using Platform.Batch.Storage;
using Platform.Batch.Tenancy;

namespace Gateway.Tests.Images;

/// <summary>Both image stores find an image only under the tenant that was current when it was added.</summary>
public class ImageTenancyTests
{
    public static TheoryData<string> Stores => new() { "memory", "database" };

    private static async Task<(IImageStore Store, Action Cleanup)> CreateAsync(string kind)
    {
        if (kind == "memory")
            return (new ImageStore(Options.Create(new ImageServingOptions())), () => { });
        var folder = Directory.CreateTempSubdirectory("image-tenancy-").FullName;
        var db = new SqliteBatchStore($"Data Source={Path.Combine(folder, "images.db")}");
        await db.InitializeAsync(default);
        return (new SharedImageStore(db), () =>
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        });
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task Get_OtherTenant_ReturnsNull(string kind)
    {
        var (store, cleanup) = await CreateAsync(kind);
        try
        {
            var png = TestImages.Png(32);
            string a, open;
            using (TenantContext.Enter("a")) a = await store.AddAsync(png, default);
            open = await store.AddAsync(png, default);

            using (TenantContext.Enter("a"))
            {
                Assert.Equal(png, await store.GetAsync(a, default));
                Assert.Null(await store.GetAsync(open, default));
            }
            using (TenantContext.Enter("b")) Assert.Null(await store.GetAsync(a, default));
            // The open tenant (no keys) sees its own images and no tenant's.
            Assert.Equal(png, await store.GetAsync(open, default));
            Assert.Null(await store.GetAsync(a, default));
        }
        finally
        {
            cleanup();
        }
    }

    [Fact]
    public void TenantContext_EnterAndDispose_RestoresThePrevious()
    {
        Assert.Equal(TenantContext.Open, TenantContext.Current);
        using (TenantContext.Enter("x"))
        {
            using (TenantContext.Enter("y")) Assert.Equal("y", TenantContext.Current);
            Assert.Equal("x", TenantContext.Current);
        }
        Assert.Equal(TenantContext.Open, TenantContext.Current);
    }
}
