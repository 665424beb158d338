using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using System.Collections.Concurrent;
using Dapr.Client.Autogen.Grpc.v1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Gateway.Tests.Dapr;

/// <summary>
/// The part of daprd's API the services call, on real Kestrel and gRPC (HTTP/2 on one port, HTTP/1.1 health on
/// another), so DaprClient 1.19.0 talks to it exactly as to a sidecar: the gRPC methods of
/// dapr.proto.runtime.v1.Dapr (PublishEvent, GetSecret, SaveState, GetState, DeleteState) with the protobuf messages
/// of Dapr.Protos, and GET /v1.0/healthz/outbound. It records what arrives; secrets and state live in memory.
/// Not a reimplementation of Dapr: components, CloudEvent wrapping and delivery are daprd's and are not exercised.
/// </summary>
public sealed class FakeDaprSidecar : IAsyncDisposable
{
    private const string Service = "dapr.proto.runtime.v1.Dapr";
    private readonly WebApplication _app;

    public ConcurrentQueue<PublishEventRequest> Published { get; } = new();
    public ConcurrentDictionary<(string Store, string Key), ByteString> State { get; } = new();
    public Dictionary<(string Store, string Name), Dictionary<string, string>> Secrets { get; } = new();
    public Uri GrpcEndpoint { get; private set; } = null!;
    public Uri HttpEndpoint { get; private set; } = null!;

    private FakeDaprSidecar(WebApplication app) => _app = app;

    public static async Task<FakeDaprSidecar> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(System.Net.IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2);
            k.Listen(System.Net.IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http1);
        });
        builder.Services.AddGrpc();
        FakeDaprSidecar? self = null;
        builder.Services.AddSingleton(_ => new DaprService(self!));
        var app = builder.Build();
        self = new FakeDaprSidecar(app);
        app.MapGrpcService<DaprService>();
        app.MapGet("/v1.0/healthz/outbound", () => Results.NoContent());
        await app.StartAsync();
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Select(a => new Uri(a)).ToList();
        // Kestrel lists them in the order configured: gRPC first.
        self.GrpcEndpoint = addresses[0];
        self.HttpEndpoint = addresses[1];
        return self;
    }

    public global::Dapr.Client.DaprClient Client() =>
        new global::Dapr.Client.DaprClientBuilder().UseGrpcEndpoint(GrpcEndpoint.ToString()).UseHttpEndpoint(HttpEndpoint.ToString()).Build();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>
    /// The service's binding, as protoc's generated server base would write it (Dapr.Protos ships only the client
    /// side): ASP.NET Core gRPC finds each handler as a virtual method of this type overridden by the service.
    /// </summary>
    [BindServiceMethod(typeof(DaprServiceBase), nameof(BindService))]
    public abstract class DaprServiceBase
    {
        private static Marshaller<T> M<T>(MessageParser<T> parser) where T : IMessage<T> => Marshallers.Create(m => m.ToByteArray(), parser.ParseFrom);

        private static Method<TReq, TRes> Unary<TReq, TRes>(string name, MessageParser<TReq> req, MessageParser<TRes> res)
            where TReq : class, IMessage<TReq> where TRes : class, IMessage<TRes> =>
            new(MethodType.Unary, Service, name, M(req), M(res));

        private static RpcException Unimplemented() => new(new Status(StatusCode.Unimplemented, "not in the fake sidecar"));

        public virtual Task<Empty> PublishEvent(PublishEventRequest r, ServerCallContext context) => throw Unimplemented();
        public virtual Task<GetSecretResponse> GetSecret(GetSecretRequest r, ServerCallContext context) => throw Unimplemented();
        public virtual Task<Empty> SaveState(SaveStateRequest r, ServerCallContext context) => throw Unimplemented();
        public virtual Task<GetStateResponse> GetState(GetStateRequest r, ServerCallContext context) => throw Unimplemented();
        public virtual Task<Empty> DeleteState(DeleteStateRequest r, ServerCallContext context) => throw Unimplemented();

        public static void BindService(ServiceBinderBase binder, DaprServiceBase? service)
        {
            binder.AddMethod(Unary("PublishEvent", PublishEventRequest.Parser, Empty.Parser), service is null ? null! : service.PublishEvent);
            binder.AddMethod(Unary("GetSecret", GetSecretRequest.Parser, GetSecretResponse.Parser), service is null ? null! : service.GetSecret);
            binder.AddMethod(Unary("SaveState", SaveStateRequest.Parser, Empty.Parser), service is null ? null! : service.SaveState);
            binder.AddMethod(Unary("GetState", GetStateRequest.Parser, GetStateResponse.Parser), service is null ? null! : service.GetState);
            binder.AddMethod(Unary("DeleteState", DeleteStateRequest.Parser, Empty.Parser), service is null ? null! : service.DeleteState);
        }
    }

    public sealed class DaprService(FakeDaprSidecar sidecar) : DaprServiceBase
    {
        public override Task<Empty> PublishEvent(PublishEventRequest r, ServerCallContext context)
        {
            sidecar.Published.Enqueue(r);
            return Task.FromResult(new Empty());
        }

        public override Task<GetSecretResponse> GetSecret(GetSecretRequest r, ServerCallContext context)
        {
            if (!sidecar.Secrets.TryGetValue((r.StoreName, r.Key), out var values))
                throw new RpcException(new Status(StatusCode.NotFound, $"secret {r.Key} not found in {r.StoreName}"));
            var response = new GetSecretResponse();
            response.Data.Add(values);
            return Task.FromResult(response);
        }

        public override Task<Empty> SaveState(SaveStateRequest r, ServerCallContext context)
        {
            foreach (var item in r.States) sidecar.State[(r.StoreName, item.Key)] = item.Value;
            return Task.FromResult(new Empty());
        }

        public override Task<GetStateResponse> GetState(GetStateRequest r, ServerCallContext context) =>
            Task.FromResult(sidecar.State.TryGetValue((r.StoreName, r.Key), out var v) ? new GetStateResponse { Data = v, Etag = "1" } : new GetStateResponse());

        public override Task<Empty> DeleteState(DeleteStateRequest r, ServerCallContext context)
        {
            sidecar.State.TryRemove((r.StoreName, r.Key), out _);
            return Task.FromResult(new Empty());
        }
    }
}
