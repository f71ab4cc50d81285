using Akka.Actor;
using Akka.TestKit.Xunit2;
using Supervisor.Actors;
using Supervisor.Actors.Restart;
using Supervisor.Protocol;
using Supervisor.Protocol.V1;
using Supervisor.Remote.Gateway;
using Supervisor.Remote.Policy;
using Supervisor.Remote.Security;
using Supervisor.Remote.Tests.Infrastructure;
using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Oci;
using Supervisor.Runtime.State;
using Sup = Supervisor.Actors;
using Wire = Supervisor.Protocol.V1;

namespace Supervisor.Remote.Tests;

/// <summary>
/// The gateway against a probe standing in for the ContainerSupervisor: what reaches the supervisor (and
/// what never does), in-process and without root.
/// </summary>
public sealed class GatewayTests : TestKit
{
    private readonly TestPki _pki = new();
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sv-gw-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly Akka.TestKit.TestProbe _supervisor;
    private readonly Akka.TestKit.TestProbe _workloads;
    private readonly IActorRef _gateway;
    private readonly ControlGatewaySettings _settings;
    private readonly FakeInspector _inspector = new();

    public GatewayTests() : base("akka.loglevel = WARNING")
    {
        Directory.CreateDirectory(Path.Combine(_dir, "bundles", "web", "rootfs"));
        _supervisor = CreateTestProbe();
        _workloads = CreateTestProbe();
        var verifier = new CertificateVerifier(_pki.CaCollection, new CertificateAllowlist(
            ["CN=admin, OU=admin, O=Supervisor Test", "CN=op, OU=operator, O=Supervisor Test"], []));
        var settings = _settings = new ControlGatewaySettings(
            new RequestAuthenticator(verifier, TimeSpan.FromSeconds(60)),
            new ControlPolicy(new PolicySettings([Path.Combine(_dir, "bundles")], [], [], PolicySettings.DefaultCapabilities)),
            _inspector,
            Path.Combine(_dir, "gateway-bundles"),
            "node-a",
            Supervisor.Actors.Restart.RestartPolicy.Never,
            TimeSpan.FromSeconds(5),
            100,
            TimeSpan.FromMinutes(5),
            4,
            _workloads.Ref,
            TimeSpan.FromSeconds(10));
        _gateway = Sys.ActorOf(ControlGateway.Props(_supervisor.Ref, settings), "control-gateway");
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        _pki.Dispose();
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task On_a_cluster_node_a_run_becomes_a_workload_carrying_the_checked_config_its_role_and_its_constraints()
    {
        var agent = CreateTestProbe();
        var gateway = Sys.ActorOf(ControlGateway.Props(_supervisor.Ref, _settings with { NodeAgent = agent.Ref, NodeName = "akka.tcp://supervisor@127.0.0.1:1" }));
        using var op = _pki.Issue("op", "operator");
        var bundle = WriteBundle();
        var run = new RunContainer
        {
            Id = "web",
            Bundle = bundle,
            Restart = new Wire.RestartPolicy { Policy = "on-failure", MaxRetries = 2 },
            Constraints = new NodeConstraints { Role = "gpu", Node = "akka.tcp://supervisor@127.0.0.1:2", Labels = { ["zone"] = "b" } },
        };
        gateway.Tell(RequestSignature.Sign(new Command { Run = run }, op, "req-c1", DateTimeOffset.UtcNow), TestActor);
        var wait = TimeSpan.FromSeconds(15);

        await agent.ExpectMsgAsync<Supervisor.Cluster.ListClusterContainers>(wait);
        agent.Reply(new Supervisor.Cluster.ClusterContainerList([], []));
        await _workloads.ExpectMsgAsync<Supervisor.Cluster.GetWorkload>(wait);
        _workloads.Reply(new Supervisor.Cluster.WorkloadStatus("web", null, Supervisor.Cluster.WorkloadPhases.Removed, "no such workload", 0, null));
        var placed = await _workloads.ExpectMsgAsync<Supervisor.Cluster.RunWorkload>(wait);
        var spec = placed.Spec;
        Assert.Equal("operator", spec.AdmitAs);
        Assert.Equal("on-failure:2", spec.Restart);
        Assert.Equal(bundle, spec.Bundle);
        Assert.Equal("gpu", spec.Constraints.Role);
        Assert.Equal("akka.tcp://supervisor@127.0.0.1:2", spec.Constraints.Node);
        Assert.Equal("b", spec.Constraints.Labels["zone"]);
        // What travels is the config as checked here, its rootfs made absolute against the bundle it came from.
        Assert.Equal(Path.Combine(bundle, "rootfs"), SpecLoader.Parse(spec.Config!, "carried").Root!.Path);

        _workloads.Reply(new Supervisor.Cluster.WorkloadStatus("web", null, Supervisor.Cluster.WorkloadPhases.Pending, "none of 3 nodes fits role gpu", 0, spec));
        var reply = await ExpectMsgAsync<RunContainerReply>(wait);
        Assert.Null(reply.Error);
        Assert.Equal("pending", reply.Phase);
        Assert.Equal("none of 3 nodes fits role gpu", reply.Reason);
        // Nothing is created by the receiving node itself, and it writes no bundle of its own.
        await _supervisor.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(300));
        Assert.False(Directory.Exists(Path.Combine(_dir, "gateway-bundles", "web")));
    }

    [Fact]
    public async Task On_a_cluster_node_an_operators_privileged_run_is_refused_before_the_cluster_hears_of_it()
    {
        var agent = CreateTestProbe();
        var gateway = Sys.ActorOf(ControlGateway.Props(_supervisor.Ref, _settings with { NodeAgent = agent.Ref }));
        using var op = _pki.Issue("op", "operator");
        var bundle = WriteBundle(s => s.Process!.Capabilities!.Bounding!.Add("CAP_SYS_ADMIN"));
        gateway.Tell(RequestSignature.Sign(new Command { Run = new RunContainer { Id = "web", Bundle = bundle } }, op, "req-c2", DateTimeOffset.UtcNow), TestActor);
        var reply = await ExpectMsgAsync<RunContainerReply>(TimeSpan.FromSeconds(15));
        Assert.Equal(ErrorCode.PermissionDenied, reply.Error.Code);
        await _workloads.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(300));
        await agent.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(100));
        await _supervisor.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(100));
    }

    private sealed class FakeInspector : IContainerInspector
    {
        public OciState? State(string id) => null;

        public ProcessConfig? BaseProcess(string id) => null;
    }

    private string WriteBundle(Action<OciSpec>? edit = null)
    {
        var spec = DefaultSpec.Create();
        edit?.Invoke(spec);
        var dir = Path.Combine(_dir, "bundles", "web");
        File.WriteAllText(Path.Combine(dir, "config.json"), SpecLoader.Serialize(spec));
        return dir;
    }

    [Fact]
    public async Task An_operators_privileged_run_is_refused_before_anything_reaches_the_supervisor()
    {
        using var op = _pki.Issue("op", "operator");
        var bundle = WriteBundle(s => s.Process!.Capabilities!.Bounding!.Add("CAP_SYS_ADMIN"));
        var run = new Command { Run = new RunContainer { Id = "web", Bundle = bundle } };
        _gateway.Tell(RequestSignature.Sign(run, op, "req-1", DateTimeOffset.UtcNow), TestActor);
        var reply = await ExpectMsgAsync<RunContainerReply>();
        Assert.Equal("req-1", reply.RequestId);
        Assert.Equal(ErrorCode.PermissionDenied, reply.Error.Code);
        Assert.Equal("operator certificate: capability CAP_SYS_ADMIN is beyond the default set", reply.Error.Message);
        await _supervisor.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(300));
        Assert.False(Directory.Exists(Path.Combine(_dir, "gateway-bundles", "web")));
    }

    [Fact]
    public async Task An_admins_run_creates_and_starts_from_the_checked_copy_of_the_config()
    {
        using var admin = _pki.Issue("admin", "admin");
        var bundle = WriteBundle(s => s.Process!.Capabilities!.Bounding!.Add("CAP_SYS_ADMIN"));
        var run = new Command { Run = new RunContainer { Id = "web", Bundle = bundle, Restart = new Wire.RestartPolicy { Policy = "on-failure:3" } } };
        _gateway.Tell(RequestSignature.Sign(run, admin, "req-2", DateTimeOffset.UtcNow), TestActor);
        var create = await _supervisor.ExpectMsgAsync<CreateContainer>();
        Assert.Equal(Path.Combine(_dir, "gateway-bundles", "web"), create.Bundle);
        Assert.Equal(RestartMode.OnFailure, create.Restart!.Mode);
        Assert.Equal(3, create.Restart.MaxRetries);
        var written = SpecLoader.LoadBundle(create.Bundle);
        Assert.Equal(Path.Combine(bundle, "rootfs"), written.Root!.Path);
        _supervisor.Reply(new CommandSucceeded("web", "create"));
        await _supervisor.ExpectMsgAsync<StartContainer>();
        _supervisor.Reply(new CommandSucceeded("web", "start"));
        await _supervisor.ExpectMsgAsync<GetContainerState>();
        _supervisor.Reply(new ContainerInfo("web", Supervisor.Runtime.ContainerStatus.Running, 4242, "on-failure:3", 0, false, false, null, false));
        var reply = await ExpectMsgAsync<RunContainerReply>();
        Assert.Null(reply.Error);
        Assert.Equal(4242, reply.Pid);
        Assert.Equal("node-a", reply.Node);
    }

    [Fact]
    public async Task Migrate_goes_to_the_workload_entity_and_reports_each_phase()
    {
        using var op = _pki.Issue("op", "operator");
        var migrate = new Command { Migrate = new MigrateContainer { Id = "web", ToNode = "akka.tcp://supervisor@127.0.0.1:4102", TcpEstablished = true } };
        _gateway.Tell(RequestSignature.Sign(migrate, op, "req-m1", DateTimeOffset.UtcNow), TestActor);
        var asked = await _workloads.ExpectMsgAsync<Supervisor.Cluster.MigrateWorkload>();
        Assert.Equal(new Supervisor.Cluster.MigrateWorkload("web", "akka.tcp://supervisor@127.0.0.1:4102", true), asked);
        _workloads.Reply(new Supervisor.Cluster.MigrationReport("web", "akka.tcp://supervisor@127.0.0.1:4101", asked.ToNode,
            true, null, asked.ToNode, 4096, 600, 40, 800, 9));
        var reply = await ExpectMsgAsync<MigrateContainerReply>();
        Assert.Null(reply.Error);
        Assert.Equal(asked.ToNode, reply.ToNode);
        Assert.Equal(["checkpoint:600", "transfer:40", "restore:800", "cleanup:9"],
            reply.Phases.Select(p => $"{p.Phase}:{p.DurationMs}").ToArray());
        // A migration never goes around the workload entity to the node's supervisor.
        await _supervisor.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task A_failed_migration_says_why_and_where_the_container_runs()
    {
        using var op = _pki.Issue("op", "operator");
        var migrate = new Command { Migrate = new MigrateContainer { Id = "web", ToNode = "akka.tcp://supervisor@127.0.0.1:4102" } };
        _gateway.Tell(RequestSignature.Sign(migrate, op, "req-m2", DateTimeOffset.UtcNow), TestActor);
        await _workloads.ExpectMsgAsync<Supervisor.Cluster.MigrateWorkload>();
        _workloads.Reply(new Supervisor.Cluster.MigrationReport("web", "akka.tcp://supervisor@127.0.0.1:4101", "akka.tcp://supervisor@127.0.0.1:4102",
            false, "restore failed on the target", "akka.tcp://supervisor@127.0.0.1:4101", 0, 600, 40, 0, 0));
        var reply = await ExpectMsgAsync<MigrateContainerReply>();
        Assert.Equal(ErrorCode.FailedPrecondition, reply.Error.Code);
        Assert.Equal("migrate web to akka.tcp://supervisor@127.0.0.1:4102: restore failed on the target (it runs on akka.tcp://supervisor@127.0.0.1:4101)",
            reply.Error.Message);
    }

    [Fact]
    public async Task A_retried_request_is_executed_once_and_both_get_the_same_reply()
    {
        using var op = _pki.Issue("op", "operator");
        var signed = RequestSignature.Sign(new Command { Kill = new Wire.KillContainer { Id = "web", Signal = 9 } }, op, "req-3", DateTimeOffset.UtcNow);
        _gateway.Tell(signed, TestActor);
        _gateway.Tell(signed, TestActor);
        var kill = await _supervisor.ExpectMsgAsync<Sup.KillContainer>();
        Assert.Equal(9, kill.Signal);
        _supervisor.Reply(new CommandSucceeded("web", "kill"));
        var first = await ExpectMsgAsync<KillContainerReply>();
        var second = await ExpectMsgAsync<KillContainerReply>();
        Assert.Equal(first, second);
        Assert.Null(first.Error);

        // And once more after completion: replayed from memory.
        _gateway.Tell(signed, TestActor);
        Assert.Equal(first, await ExpectMsgAsync<KillContainerReply>());
        await _supervisor.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task Unauthenticated_requests_and_foreign_messages_never_reach_the_supervisor()
    {
        using var foreignCa = new TestPki("Other");
        using var foreign = foreignCa.Issue("admin", "admin");
        _gateway.Tell(RequestSignature.Sign(new Command { Delete = new Wire.DeleteContainer { Id = "web", Force = true } }, foreign, "req-4", DateTimeOffset.UtcNow), TestActor);
        var reply = await ExpectMsgAsync<DeleteContainerReply>();
        Assert.Equal(ErrorCode.Unauthenticated, reply.Error.Code);

        // The supervisor's own records sent straight to the gateway are not commands.
        _gateway.Tell(new Sup.DeleteContainer("web", true), TestActor);
        _gateway.Tell(new GetState { Id = "web" }, TestActor);
        await _supervisor.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(300));
        await ExpectNoMsgAsync(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task Subscribers_get_the_events_they_asked_for()
    {
        using var admin = _pki.Issue("admin", "admin");
        var sub = new Command { SubscribeEvents = new SubscribeEvents { ContainerId = "web" } };
        _gateway.Tell(RequestSignature.Sign(sub, admin, "req-5", DateTimeOffset.UtcNow), TestActor);
        var ok = await ExpectMsgAsync<SubscribeEventsReply>();
        Assert.Null(ok.Error);
        _gateway.Tell(new Sup.ContainerStarted("other", 1, 0));
        _gateway.Tell(new Sup.ContainerExited("web", 77, 137, 9, true, DateTimeOffset.FromUnixTimeMilliseconds(1000)));
        var n = await ExpectMsgAsync<EventNotification>();
        Assert.Equal(ok.SubscriptionId, n.SubscriptionId);
        Assert.Equal(new Wire.ContainerExited { Id = "web", Pid = 77, ExitCode = 137, Signal = 9, OomKilled = true, FinishedAtUnixMs = 1000 }, n.Event.Exited);
        Assert.Equal("node-a", n.Event.Node);
        await ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));
    }
}
