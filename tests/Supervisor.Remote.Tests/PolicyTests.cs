using Supervisor.Remote.Policy;
using Supervisor.Remote.Security;
using Supervisor.Runtime.Oci;

namespace Supervisor.Remote.Tests;

/// <summary>The policy gate, as pure code: what an operator certificate may ask for, and that an admin may ask for anything.</summary>
public sealed class PolicyTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "sv-policy-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly ControlPolicy _policy;

    public PolicyTests()
    {
        Directory.CreateDirectory(Path.Combine(_root, "bundles", "web", "rootfs"));
        Directory.CreateDirectory(Path.Combine(_root, "data"));
        Directory.CreateDirectory(Path.Combine(_root, "images"));
        _policy = new ControlPolicy(new PolicySettings(
            [Path.Combine(_root, "bundles")], [Path.Combine(_root, "data")], [Path.Combine(_root, "images")], PolicySettings.DefaultCapabilities));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Bundle => Path.Combine(_root, "bundles", "web");

    private static OciSpec Spec() => DefaultSpec.Create();

    private void Denied(OciSpec spec, string reasonPart, string? bundle = "")
    {
        var d = _policy.CheckRun(ControlRole.Operator, spec, bundle == "" ? Bundle : bundle);
        Assert.False(d.Allowed, "the operator's request was allowed");
        Assert.Contains(reasonPart, d.Reason);
        Assert.StartsWith("operator certificate: ", d.Reason);
        Assert.DoesNotContain('\n', d.Reason!);
        // The same request from an admin is allowed.
        Assert.True(_policy.CheckRun(ControlRole.Admin, spec, bundle == "" ? Bundle : bundle).Allowed);
    }

    [Fact]
    public void The_default_spec_in_an_allowed_bundle_is_fine_for_an_operator()
    {
        Assert.Equal(PolicyDecision.Allow, _policy.CheckRun(ControlRole.Operator, Spec(), Bundle));
    }

    [Fact]
    public void Capabilities_beyond_the_default_set_are_refused()
    {
        var s = Spec();
        s.Process!.Capabilities!.Bounding!.Add("CAP_SYS_ADMIN");
        Denied(s, "capability CAP_SYS_ADMIN is beyond the default set");

        var ambient = Spec();
        ambient.Process!.Capabilities!.Ambient!.Add("sys_ptrace");
        Denied(ambient, "CAP_SYS_PTRACE");

        var docker = Spec();
        docker.Process!.Capabilities!.Effective!.AddRange(["CAP_CHOWN", "CAP_NET_RAW", "CAP_SETUID"]);
        Assert.True(_policy.CheckRun(ControlRole.Operator, docker, Bundle).Allowed);
    }

    [Theory]
    [InlineData("pid")]
    [InlineData("network")]
    [InlineData("mount")]
    [InlineData("ipc")]
    [InlineData("uts")]
    public void A_missing_namespace_means_the_hosts_and_is_refused(string type)
    {
        var s = Spec();
        s.Linux!.Namespaces!.RemoveAll(n => n.Type == type);
        Denied(s, $"share the host's {type} namespace");
    }

    [Fact]
    public void Joining_a_namespace_by_path_is_refused()
    {
        var s = Spec();
        var i = s.Linux!.Namespaces!.FindIndex(n => n.Type == "network");
        s.Linux.Namespaces[i] = new OciNamespace { Type = "network", Path = "/proc/1/ns/net" };
        Denied(s, "joining an existing network namespace (/proc/1/ns/net)");
    }

    [Fact]
    public void Bind_mounts_must_come_from_the_allowed_roots()
    {
        var root = Spec();
        root.Mounts!.Add(new OciMount { Destination = "/host", Type = "bind", Source = "/", Options = ["rbind", "rw"] });
        Denied(root, "bind mount of host path / (at /host) is outside the allowed bind roots");

        var escape = Spec();
        escape.Mounts!.Add(new OciMount { Destination = "/x", Type = "none", Source = Path.Combine(_root, "data", "..", "bundles"), Options = ["bind"] });
        Denied(escape, "outside the allowed bind roots");

        var relative = Spec();
        relative.Mounts!.Add(new OciMount { Destination = "/x", Type = "bind", Source = "../../../etc", Options = ["bind"] });
        Denied(relative, "outside the allowed bind roots");

        var fine = Spec();
        fine.Mounts!.Add(new OciMount { Destination = "/data", Type = "bind", Source = Path.Combine(_root, "data"), Options = ["rbind", "ro"] });
        Assert.True(_policy.CheckRun(ControlRole.Operator, fine, Bundle).Allowed);
    }

    [Fact]
    public void A_symlink_inside_an_allowed_root_cannot_point_outside_it()
    {
        var link = Path.Combine(_root, "data", "etc-link");
        File.CreateSymbolicLink(link, "/etc");
        var s = Spec();
        s.Mounts!.Add(new OciMount { Destination = "/x", Type = "bind", Source = link, Options = ["bind"] });
        Denied(s, "outside the allowed bind roots");
    }

    [Fact]
    public void Device_wildcards_and_extra_devices_are_refused()
    {
        var wildcard = Spec();
        wildcard.Linux!.Resources!.Devices!.Add(new OciDeviceCgroup { Allow = true, Type = "a", Access = "rwm" });
        Denied(wildcard, "device wildcard rule \"a *:* rwm\"");

        var anyMinor = Spec();
        anyMinor.Linux!.Resources!.Devices!.Add(new OciDeviceCgroup { Allow = true, Type = "b", Major = 8, Access = "rw" });
        Denied(anyMinor, "device wildcard rule \"b 8:* rw\"");

        var disk = Spec();
        disk.Linux!.Resources!.Devices!.Add(new OciDeviceCgroup { Allow = true, Type = "b", Major = 8, Minor = 0, Access = "rw" });
        Denied(disk, "device access rule \"b 8:0 rw\"");

        var node = Spec();
        node = node with { Linux = node.Linux! with { Devices = [new OciDevice { Path = "/dev/sda", Type = "b", Major = 8, Minor = 0 }] } };
        Denied(node, "extra device /dev/sda");
    }

    [Fact]
    public void Hooks_and_a_missing_seccomp_profile_are_refused()
    {
        var hooks = Spec() with { Hooks = new OciHooks { Prestart = [new OciHook { Path = "/bin/sh", Args = ["sh", "-c", "id"] }] } };
        Denied(hooks, "hooks run on the host as root");

        var s = Spec();
        s = s with { Linux = s.Linux! with { Seccomp = null } };
        Denied(s, "no seccomp profile");
    }

    [Fact]
    public void Bundles_and_rootfs_outside_the_allowed_roots_are_refused()
    {
        Denied(Spec(), "bundle /srv is outside the allowed bundle roots", bundle: "/srv");

        var absRoot = Spec() with { Root = new OciRoot { Path = "/" } };
        Denied(absRoot, "rootfs / is outside the allowed bundle roots");

        var inline = Spec();
        Denied(inline, "an inline config needs an absolute root.path", bundle: null);
        var inlineOk = Spec() with { Root = new OciRoot { Path = Path.Combine(Bundle, "rootfs") } };
        Assert.True(_policy.CheckRun(ControlRole.Operator, inlineOk, null).Allowed);
    }

    [Fact]
    public void Checkpoint_images_only_inside_the_allowed_roots_for_operators()
    {
        Assert.True(_policy.CheckImagePath(ControlRole.Operator, Path.Combine(_root, "images", "c1")).Allowed);
        var d = _policy.CheckImagePath(ControlRole.Operator, "/etc/cron.d");
        Assert.False(d.Allowed);
        Assert.Contains("image path /etc/cron.d is outside the allowed image roots", d.Reason);
        Assert.False(_policy.CheckImagePath(ControlRole.Operator, Path.Combine(_root, "images", "..", "data")).Allowed);
        Assert.True(_policy.CheckImagePath(ControlRole.Admin, "/etc/cron.d").Allowed);
    }

    [Fact]
    public void Nothing_is_allowed_when_no_roots_are_configured()
    {
        var empty = new ControlPolicy(PolicySettings.Default);
        var d = empty.CheckRun(ControlRole.Operator, Spec(), Bundle);
        Assert.False(d.Allowed);
        Assert.Contains("(none are configured)", d.Reason);
    }
}
