using Supervisor.Cluster;
using Supervisor.Protocol.V1;
using Supervisor.Remote.Gateway;
using Supervisor.Remote.Policy;
using Supervisor.Runtime.Oci;

namespace Supervisor.Remote.Tests;

/// <summary>
/// What a cluster node decides about a workload that carries a remote client's checked config, and how a
/// run's node constraints become placement constraints.
/// </summary>
public sealed class ClusterAdmissionTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "sv-admission-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly PolicyWorkloadAdmission _admission;

    public ClusterAdmissionTests()
    {
        Directory.CreateDirectory(Path.Combine(_root, "bundles", "web", "rootfs"));
        Directory.CreateDirectory(Path.Combine(_root, "elsewhere", "rootfs"));
        _admission = new PolicyWorkloadAdmission(new ControlPolicy(new PolicySettings(
            [Path.Combine(_root, "bundles")], [], [], PolicySettings.DefaultCapabilities)));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>The default spec read from <paramref name="bundle"/> (relative rootfs), as a gateway carries it.</summary>
    private static string Carried(string bundle, Action<OciSpec>? change = null)
    {
        var spec = DefaultSpec.Create();
        change?.Invoke(spec);
        return CheckedConfig.Serialize(spec, bundle);
    }

    private static WorkloadSpec Workload(string? config, string? role) => new("w", "/b", "always", PlacementConstraints.None, config, role);

    [Fact]
    public void The_carried_config_has_absolute_paths_made_against_the_source_bundle()
    {
        var bundle = Path.Combine(_root, "bundles", "web");
        var spec = DefaultSpec.Create();
        spec.Mounts!.Add(new OciMount { Destination = "/data", Source = "data", Type = "bind", Options = ["rbind"] });
        var back = SpecLoader.Parse(CheckedConfig.Serialize(spec, bundle), "carried");
        Assert.Equal(Path.Combine(bundle, "rootfs"), back.Root!.Path);
        Assert.Equal(Path.Combine(bundle, "data"), back.Mounts!.Single(m => m.Destination == "/data").Source);
        // Non-bind sources (proc, tmpfs...) are names, not paths, and stay as they were.
        Assert.Equal("proc", back.Mounts!.Single(m => m.Destination == "/proc").Source);
        // The compact form a workload carries is the same config.
        var compact = CheckedConfig.Serialize(spec, bundle, indented: false);
        Assert.DoesNotContain('\n', compact);
        Assert.Equal(SpecLoader.Serialize(back), SpecLoader.Serialize(SpecLoader.Parse(compact, "compact")));
    }

    [Fact]
    public void An_operators_config_is_checked_against_this_nodes_roots()
    {
        Assert.Null(_admission.Refuse(Workload(Carried(Path.Combine(_root, "bundles", "web")), AdmissionRoles.Operator)));

        var outside = _admission.Refuse(Workload(Carried(Path.Combine(_root, "elsewhere")), AdmissionRoles.Operator));
        Assert.StartsWith("operator certificate: rootfs " + Path.Combine(_root, "elsewhere", "rootfs") + " is outside the allowed bundle roots", outside);

        var privileged = _admission.Refuse(Workload(Carried(Path.Combine(_root, "bundles", "web"), s => s.Process!.Capabilities!.Bounding!.Add("CAP_SYS_ADMIN")),
            AdmissionRoles.Operator));
        Assert.Contains("CAP_SYS_ADMIN", privileged);
    }

    [Fact]
    public void A_symbolic_link_inside_an_allowed_root_that_leads_out_is_refused_on_the_node_that_resolves_it()
    {
        var link = Path.Combine(_root, "bundles", "sneaky");
        File.CreateSymbolicLink(link, Path.Combine(_root, "elsewhere"));
        var refusal = _admission.Refuse(Workload(Carried(link), AdmissionRoles.Operator));
        Assert.NotNull(refusal);
        Assert.Contains("outside the allowed bundle roots", refusal);
    }

    [Fact]
    public void Admins_the_cluster_api_and_bundle_specs_are_let_through_and_unknown_roles_are_not()
    {
        var outside = Carried(Path.Combine(_root, "elsewhere"), s => s.Process!.Capabilities!.Bounding!.Add("CAP_SYS_ADMIN"));
        Assert.Null(_admission.Refuse(Workload(outside, AdmissionRoles.Admin)));
        Assert.Null(_admission.Refuse(Workload(outside, null)));
        Assert.Null(_admission.Refuse(Workload(null, null)));
        Assert.Equal("unknown requester role \"root\"", _admission.Refuse(Workload(outside, "root")));
        Assert.StartsWith("the workload's config: invalid JSON", _admission.Refuse(Workload("{not json", AdmissionRoles.Operator)));
    }

    [Fact]
    public void Run_constraints_map_to_placement_constraints_with_the_node_as_an_address()
    {
        Assert.Same(PlacementConstraints.None, ProtocolMapping.ToPlacement(null));
        var empty = ProtocolMapping.ToPlacement(new NodeConstraints());
        Assert.Null(empty.Role);
        Assert.Null(empty.Node);
        Assert.Empty(empty.Labels);

        var c = new NodeConstraints { Role = "gpu", Node = "akka.tcp://supervisor@10.0.0.2:4055" };
        c.Labels["zone"] = "b";
        c.Labels["disk"] = "ssd";
        var p = ProtocolMapping.ToPlacement(c);
        Assert.Equal("gpu", p.Role);
        Assert.Equal("akka.tcp://supervisor@10.0.0.2:4055", p.Node);
        Assert.Equal(new Dictionary<string, string> { ["disk"] = "ssd", ["zone"] = "b" }, p.Labels);
        var load = new NodeLoad("akka.tcp://supervisor@10.0.0.2:4055", ["supervisor", "gpu"], new Dictionary<string, string> { ["zone"] = "b", ["disk"] = "ssd" }, 0, 1);
        Assert.True(Placement.Fits(load, p));
        Assert.False(Placement.Fits(load with { Address = "akka.tcp://supervisor@10.0.0.3:4055" }, p));
    }
}
