using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Supervisor.Actors;
using Supervisor.Protocol;
using Supervisor.Protocol.V1;
using Supervisor.Remote.Client;
using Supervisor.Remote.Hosting;
using Supervisor.Remote.Security;
using Supervisor.Remote.Tests.Infrastructure;

namespace Supervisor.Remote.Tests;

/// <summary>
/// R5 (security-anchors §6): a frame that names a CLR type to build, through Akka's type-naming JSON
/// serializer or any serializer outside the control protocol, is refused by the control plane before
/// anything is constructed. The control plane runs in this process (its production configuration from
/// <see cref="RemoteControlSettings"/>) so that the canary types below are loadable by the receiver: were a
/// serializer willing to build them, their constructors would count it.
/// </summary>
public sealed class DeserializationTests : IAsyncLifetime
{
    private readonly TestPki _pki = new();
    private readonly string _stateRoot = Path.Combine(Path.GetTempPath(), "sv-deser-" + Guid.NewGuid().ToString("N")[..8]);
    private ActorSystem _supervisorSystem = null!;
    private ControlPlane _plane = null!;
    private (string Cert, string Key) _admin;
    private int _port;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_stateRoot);
        using var node = _pki.Issue("node", "node");
        using var admin = _pki.Issue("admin", "admin");
        var nodeFiles = _pki.Write("node", node);
        _admin = _pki.Write("admin", admin);
        _port = FreePort();
        var settings = RemoteControlSettings.Create(ConfigurationFactory.ParseString($$"""
            supervisor.remote {
              hostname = "127.0.0.1"
              port = {{_port}}
              tls { ca = "{{_pki.CaPath}}", certificate = "{{nodeFiles.Cert}}", key = "{{nodeFiles.Key}}" }
              allowed-subjects = ["CN=node, OU=node, O=Supervisor Test", "CN=admin, OU=admin, O=Supervisor Test"]
            }
            """), _stateRoot);
        _supervisorSystem = ActorSystem.Create("supervisor-deser", "akka.loglevel = WARNING");
        var supervisor = _supervisorSystem.ActorOf(Props.Create(() => new EmptySupervisor()), "containers");
        _plane = ControlPlane.Start(_supervisorSystem, supervisor, settings, _stateRoot, Supervisor.Actors.Restart.RestartPolicy.Never);
        await Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _plane.DisposeAsync();
        await _supervisorSystem.Terminate();
        _pki.Dispose();
        Directory.Delete(_stateRoot, recursive: true);
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>Stands in for the ContainerSupervisor: no containers.</summary>
    private sealed class EmptySupervisor : ReceiveActor
    {
        public EmptySupervisor()
        {
            Receive<Supervisor.Actors.ListContainers>(_ => Sender.Tell(new ContainerList([])));
            Receive<GetContainerState>(m => Sender.Tell(new CommandFailed(m.Id, "state", $"container {m.Id} does not exist")));
        }
    }

    /// <summary>
    /// An authenticated peer (the admin's certificate, through the same TLS setup as the real client) with
    /// Akka's stock serializers: Newtonsoft JSON with type names for plain objects, Akka.Remote's protobuf
    /// serializer for <see cref="IMessage"/> (CLR type name as manifest), plus <paramref name="extra"/>.
    /// </summary>
    private ActorSystem RogueClient(string extra = "")
    {
        var ca = TlsMaterial.LoadCa(_pki.CaPath);
        var certificate = TlsMaterial.LoadCertificate(_admin.Cert, _admin.Key);
        var verifier = new CertificateVerifier(ca, CertificateAllowlist.AnyoneOfTheCa);
        var config = ConfigurationFactory.ParseString($$"""
            akka {
              loglevel = WARNING
              actor.provider = remote
              actor.serialization-bindings {
                "{{typeof(JsonGadget).AssemblyQualifiedName}}" = json
                "{{typeof(ProtoCanary).AssemblyQualifiedName}}" = proto
              }
              {{extra}}
              remote.dot-netty.tcp {
                hostname = "127.0.0.1"
                port = 0
                enable-ssl = true
                ssl { suppress-validation = false, require-mutual-authentication = true }
              }
            }
            """);
        return ActorSystem.Create("rogue", BootstrapSetup.Create().WithConfig(config).And(TlsMaterial.SslSetup(certificate, verifier)));
    }

    private string GatewayAddress => $"akka.ssl.tcp://supervisor-control@127.0.0.1:{_port}{RemoteControlSettings.GatewayPath}";

    /// <summary>The frames of one attack, each sent by a fresh authenticated peer to the gateway and to /user.</summary>
    public static TheoryData<string> Gadgets => ["json", "proto", "status-failure", "system-failed"];

    [Theory]
    [MemberData(nameof(Gadgets))]
    public async Task Type_naming_frames_are_refused_before_any_object_is_built_and_the_gateway_still_answers(string gadget)
    {
        var rogue = RogueClient();
        try
        {
            // The rogue side really does produce the dangerous frames: type names on the wire.
            var json = rogue.Serialization.FindSerializerFor(new JsonGadget(new Canary()));
            Assert.Equal(1, json.Identifier);
            Assert.Contains("\"$type\"", System.Text.Encoding.UTF8.GetString(json.ToBinary(new JsonGadget(new Canary()))));
            Assert.Equal(2, rogue.Serialization.FindSerializerFor(new ProtoCanary()).Identifier);

            var provider = ((ExtendedActorSystem)rogue).Provider;
            var paths = new[] { GatewayAddress, $"akka.ssl.tcp://supervisor-control@127.0.0.1:{_port}/user" };
            // The frames are serialized on the rogue's side after Tell returns; its own canaries are made here.
            var payloads = Enumerable.Range(0, 4).Select(_ => gadget switch
            {
                "json" => (object)new JsonGadget(new Canary()),
                "proto" => new ProtoCanary(),
                "status-failure" => new Status.Failure(new CanaryException()),
                _ => new Akka.Dispatch.SysMsg.Failed(ActorRefs.Nobody, new CanaryException(), 0),
            }).ToList();
            Canary.Reset();
            ProtoCanary.Reset();
            CanaryException.Reset();

            var i = 0;
            foreach (var path in paths)
            {
                var target = provider.ResolveActorRef(path);
                if (payloads[i] is Akka.Dispatch.SysMsg.ISystemMessage system)
                {
                    ((IInternalActorRef)target).SendSystemMessage(system);
                    ((IInternalActorRef)target).SendSystemMessage((Akka.Dispatch.SysMsg.ISystemMessage)payloads[i + 1]);
                }
                else
                {
                    target.Tell(payloads[i]);
                    rogue.ActorSelection(path).Tell(payloads[i + 1]);
                }
                i += 2;
            }

            if (gadget == "system-failed")
            {
                // A system message that cannot be deserialized breaks Akka's acknowledged system-message
                // channel, so the control plane drops the rogue's association: the Identify behind it may go
                // unanswered. Its reply, or its timeout, is the time given for the frames to be read.
                try
                {
                    await rogue.ActorSelection(GatewayAddress).Ask<ActorIdentity>(new Identify("after"), TimeSpan.FromSeconds(15));
                }
                catch (AskTimeoutException)
                {
                }
            }
            else
            {
                // The association still carries ordinary messages after the refused ones: an Identify sent
                // behind them is answered, twice, so what the control plane read before has been handled.
                var identity = await rogue.ActorSelection(GatewayAddress).Ask<ActorIdentity>(new Identify("after"), TimeSpan.FromSeconds(20));
                Assert.NotNull(identity.Subject);
                await rogue.ActorSelection(GatewayAddress).Ask<ActorIdentity>(new Identify("again"), TimeSpan.FromSeconds(20));
            }
        }
        finally
        {
            await rogue.Terminate();
        }

        Assert.Equal(0, Canary.Constructed);
        Assert.Equal(0, ProtoCanary.Constructed);
        Assert.Equal(0, CanaryException.Constructed);
        await AssertGatewayAnswers();
    }

    [Fact]
    public async Task A_control_protocol_frame_naming_a_type_outside_the_protocol_is_refused()
    {
        ProtoCanary.Reset();
        // A peer whose serializer claims the control protocol's id (7301) but writes a CLR type name as manifest.
        var rogue = RogueClient($$"""
            actor.serializers.forged = "{{typeof(ForgedProtocolSerializer).AssemblyQualifiedName}}"
            actor.serialization-bindings { "{{typeof(ForgedCanary).AssemblyQualifiedName}}" = forged }
            """);
        try
        {
            Assert.Equal(ControlProtocolSerializer.SerializerId, rogue.Serialization.FindSerializerFor(new ForgedCanary()).Identifier);
            rogue.ActorSelection(GatewayAddress).Tell(new ForgedCanary());
            ((ExtendedActorSystem)rogue).Provider.ResolveActorRef(GatewayAddress).Tell(new ForgedCanary());
            ProtoCanary.Reset();
            var identity = await rogue.ActorSelection(GatewayAddress).Ask<ActorIdentity>(new Identify("after"), TimeSpan.FromSeconds(20));
            Assert.NotNull(identity.Subject);
        }
        finally
        {
            await rogue.Terminate();
        }
        Assert.Equal(0, ProtoCanary.Constructed);
        await AssertGatewayAnswers();
    }

    private async Task AssertGatewayAnswers()
    {
        await using var client = RemoteControlClient.Connect(new RemoteClientOptions("127.0.0.1", _port, _admin.Cert, _admin.Key, _pki.CaPath));
        var list = await client.Send(new Command { List = new Supervisor.Protocol.V1.ListContainers() });
        Assert.Null(list.Error);
        Assert.IsType<ListContainersReply>(list);
        var state = await client.Send(new Command { GetState = new GetState { Id = "nope" } });
        Assert.Equal(ErrorCode.NotFound, state.Error.Code);
    }
}

/// <summary>The canary: building one anywhere counts. Static so the count is seen across the systems of the process.</summary>
public sealed class Canary
{
    private static int _constructed;

    public Canary()
    {
        Interlocked.Increment(ref _constructed);
    }

    public static int Constructed => Volatile.Read(ref _constructed);

    public static void Reset() => Interlocked.Exchange(ref _constructed, 0);
}

/// <summary>The JSON gadget shape: a wrapper whose object-typed member carries a "$type" naming the canary.</summary>
public sealed class JsonGadget
{
    public JsonGadget(object payload)
    {
        Payload = payload;
    }

    public object Payload { get; set; }
}

/// <summary>
/// A protobuf message outside supervisor.proto whose parser builds (and counts) a canary: what a frame under
/// Akka.Remote's protobuf serializer (id 2, CLR type name as manifest) would make the receiver construct.
/// </summary>
public sealed class ProtoCanary : IMessage<ProtoCanary>
{
    private static int _constructed;

    public static MessageParser<ProtoCanary> Parser { get; } = new(() => new ProtoCanary());

    public ProtoCanary()
    {
        Interlocked.Increment(ref _constructed);
    }

    public static int Constructed => Volatile.Read(ref _constructed);

    public static void Reset() => Interlocked.Exchange(ref _constructed, 0);

    public MessageDescriptor Descriptor => null!;

    public void MergeFrom(ProtoCanary message)
    {
    }

    public void MergeFrom(CodedInputStream input)
    {
        while (input.ReadTag() != 0)
            input.SkipLastField();
    }

    public void WriteTo(CodedOutputStream output) => output.WriteString("canary");

    public int CalculateSize() => CodedOutputStream.ComputeStringSize("canary");

    public ProtoCanary Clone() => new();

    public bool Equals(ProtoCanary? other) => other is not null;

    public override bool Equals(object? obj) => obj is ProtoCanary;

    public override int GetHashCode() => 1;
}

/// <summary>
/// An exception type whose deserialization constructor counts: Akka.Remote rebuilds a Status.Failure's
/// exception from the type name in the frame through that constructor.
/// </summary>
public sealed class CanaryException : Exception
{
    private static int _constructed;

    public CanaryException()
        : base("canary")
    {
    }

#pragma warning disable SYSLIB0051 // the legacy serialization constructor is exactly what a frame could reach
    private CanaryException(System.Runtime.Serialization.SerializationInfo info, System.Runtime.Serialization.StreamingContext context)
        : base(info, context)
    {
        Interlocked.Increment(ref _constructed);
    }
#pragma warning restore SYSLIB0051

    public static int Constructed => Volatile.Read(ref _constructed);

    public static void Reset() => Interlocked.Exchange(ref _constructed, 0);
}

/// <summary>What the forging peer sends under the control protocol's serializer id.</summary>
public sealed class ForgedCanary;

/// <summary>A client-side serializer that claims id 7301 and names a CLR type (the protobuf canary) as manifest.</summary>
public sealed class ForgedProtocolSerializer(ExtendedActorSystem system) : Akka.Serialization.SerializerWithStringManifest(system)
{
    public override int Identifier => ControlProtocolSerializer.SerializerId;

    public override string Manifest(object o) => typeof(ProtoCanary).AssemblyQualifiedName!;

    public override byte[] ToBinary(object obj) => [];

    public override object FromBinary(byte[] bytes, string manifest) => throw new NotSupportedException();
}
