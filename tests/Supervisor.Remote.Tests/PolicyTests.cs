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
            [Path.Combine(_root, "bundles")], [Path.Combine(_root, "data")], [Path.Combine(_root, "images")], PolicySettings.DefaultCapabilities),
            hostHardLimit: type => type switch { "RLIMIT_NOFILE" => 20000, "RLIMIT_MEMLOCK" => 8388608, _ => null });
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

    [Theory]
    [InlineData("/proc/kcore")]
    [InlineData("/proc/keys")]
    [InlineData("/sys/firmware")]
    [InlineData("/proc/timer_list")]
    public void Unmasking_a_default_masked_path_is_refused(string path)
    {
        var s = Spec();
        s.Linux!.MaskedPaths!.Remove(path);
        Denied(s, $"maskedPaths must keep {path} (the default spec masks it)");

        var none = Spec();
        none = none with { Linux = none.Linux! with { MaskedPaths = null } };
        Denied(none, "maskedPaths must keep /proc/acpi");

        // Spelled differently, the same path is still masked; masking more is fine.
        var spelled = Spec();
        var i = spelled.Linux!.MaskedPaths!.IndexOf(path);
        spelled.Linux.MaskedPaths[i] = path.Replace("/", "//") + "/";
        spelled.Linux.MaskedPaths.Add("/proc/cpuinfo");
        Assert.True(_policy.CheckRun(ControlRole.Operator, spelled, Bundle).Allowed);
    }

    [Theory]
    [InlineData("/proc/sys")]
    [InlineData("/proc/sysrq-trigger")]
    [InlineData("/proc/bus")]
    public void Dropping_a_default_read_only_path_is_refused_but_masking_it_instead_is_fine(string path)
    {
        var s = Spec();
        s.Linux!.ReadonlyPaths!.Remove(path);
        Denied(s, $"readonlyPaths must keep {path} (the default spec makes it read-only)");

        s.Linux.MaskedPaths!.Add(path);
        Assert.True(_policy.CheckRun(ControlRole.Operator, s, Bundle).Allowed);
    }

    [Fact]
    public void No_new_privileges_must_stay_on()
    {
        var off = Spec();
        off = off with { Process = off.Process! with { NoNewPrivileges = false } };
        Denied(off, "noNewPrivileges must be true");

        var unset = Spec();
        unset = unset with { Process = unset.Process! with { NoNewPrivileges = null } };
        Denied(unset, "noNewPrivileges must be true");
    }

    [Fact]
    public void Lsm_labels_are_the_admins_choice()
    {
        var apparmor = Spec();
        apparmor = apparmor with { Process = apparmor.Process! with { ApparmorProfile = "unconfined" } };
        Denied(apparmor, "apparmorProfile \"unconfined\" is set");

        var selinux = Spec();
        selinux = selinux with { Process = selinux.Process! with { SelinuxLabel = "system_u:system_r:spc_t:s0" } };
        Denied(selinux, "selinuxLabel \"system_u:system_r:spc_t:s0\" is set");

        var mount = Spec();
        mount = mount with { Linux = mount.Linux! with { MountLabel = "system_u:object_r:container_file_t:s0" } };
        Denied(mount, "mountLabel");
    }

    [Fact]
    public void Rlimits_above_the_hosts_hard_limit_are_refused()
    {
        var files = Spec();
        files.Process!.Rlimits![0] = new OciRlimit { Type = "RLIMIT_NOFILE", Hard = 1_000_000, Soft = 1024 };
        Denied(files, "rlimit RLIMIT_NOFILE 1000000 is above the host's hard limit 20000");

        var memlock = Spec();
        memlock.Process!.Rlimits!.Add(new OciRlimit { Type = "RLIMIT_MEMLOCK", Hard = ulong.MaxValue, Soft = ulong.MaxValue });
        Denied(memlock, "rlimit RLIMIT_MEMLOCK unlimited is above the host's hard limit 8388608");

        // Up to the host's limit, or a limit the host leaves unlimited, is fine.
        var fine = Spec();
        fine.Process!.Rlimits![0] = new OciRlimit { Type = "RLIMIT_NOFILE", Hard = 20000, Soft = 4096 };
        fine.Process.Rlimits.Add(new OciRlimit { Type = "RLIMIT_CORE", Hard = ulong.MaxValue, Soft = 0 });
        Assert.True(_policy.CheckRun(ControlRole.Operator, fine, Bundle).Allowed);
    }

    [Fact]
    public void The_daemons_own_hard_limits_come_from_proc_self_limits()
    {
        // This process's limits, read the same way from the kernel's table; "unlimited" means no ceiling.
        var line = File.ReadLines("/proc/self/limits").Single(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        var hard = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        Assert.Equal(hard == "unlimited" ? null : ulong.Parse(hard, System.Globalization.CultureInfo.InvariantCulture), ControlPolicy.DaemonHardLimit("RLIMIT_NOFILE"));
        Assert.Null(ControlPolicy.DaemonHardLimit("RLIMIT_NOSUCH"));
    }

    [Theory]
    [InlineData("kernel.shmmax", true)]
    [InlineData("kernel.sem", true)]
    [InlineData("kernel.msgmnb", true)]
    [InlineData("fs.mqueue.msg_max", true)]
    [InlineData("net.ipv4.ip_forward", true)]
    [InlineData("net.core.somaxconn", true)]
    [InlineData("kernel.core_pattern", false)]
    [InlineData("kernel.modprobe", false)]
    [InlineData("vm.overcommit_memory", false)]
    [InlineData("fs.file-max", false)]
    [InlineData("kernel.shmmaxx", false)]
    [InlineData("kernel.hostname", false)]
    public void Only_sysctls_of_the_containers_own_ipc_and_network_namespaces_are_allowed(string name, bool allowed)
    {
        var s = Spec();
        s = s with { Linux = s.Linux! with { Sysctl = new() { [name] = "1" } } };
        if (allowed)
            Assert.True(_policy.CheckRun(ControlRole.Operator, s, Bundle).Allowed);
        else
            Denied(s, $"sysctl {name} is not confined to the container's own ipc or network namespace");
    }

    [Fact]
    public void Net_sysctls_need_the_containers_own_network_namespace()
    {
        Assert.True(ControlPolicy.IsNamespacedSysctl("net.ipv4.ip_forward", ownNetworkNamespace: true));
        Assert.False(ControlPolicy.IsNamespacedSysctl("net.ipv4.ip_forward", ownNetworkNamespace: false));
        Assert.True(ControlPolicy.IsNamespacedSysctl("kernel.shmmax", ownNetworkNamespace: false));
    }

    [Fact]
    public void Writable_or_extra_proc_sys_and_cgroup_mounts_are_refused()
    {
        var sysRw = Spec();
        var sys = sysRw.Mounts!.FindIndex(m => m.Type == "sysfs");
        sysRw.Mounts[sys] = sysRw.Mounts[sys] with { Options = ["nosuid", "noexec", "nodev", "rw"] };
        Denied(sysRw, "sysfs at /sys is writable");

        var cgroupRw = Spec();
        var cg = cgroupRw.Mounts!.FindIndex(m => m.Type == "cgroup");
        cgroupRw.Mounts[cg] = cgroupRw.Mounts[cg] with { Options = ["nosuid", "noexec", "nodev"] };
        Denied(cgroupRw, "cgroupfs at /sys/fs/cgroup is writable");

        var proc2 = Spec();
        proc2.Mounts!.Add(new OciMount { Destination = "/hostproc", Type = "proc", Source = "proc" });
        Denied(proc2, "procfs at /hostproc: only /proc gets the masked and read-only paths");

        var sys2 = Spec();
        sys2.Mounts!.Add(new OciMount { Destination = "/sys2", Type = "sysfs", Source = "sysfs", Options = ["ro"] });
        Denied(sys2, "sysfs at /sys2: only /sys gets the masked paths");
    }

    [Fact]
    public void A_bind_of_the_hosts_proc_or_sys_is_refused_even_inside_an_allowed_bind_root()
    {
        // An operator whose allowed bind roots include / (a lax configuration) still cannot bind /proc or /sys.
        var lax = new ControlPolicy(_policy.Settings with { AllowedBindRoots = ["/"] });
        foreach (var source in new[] { "/proc", "/proc/1/root", "/sys/kernel", "/sys" })
        {
            var s = Spec();
            s.Mounts!.Add(new OciMount { Destination = "/x", Type = "bind", Source = source, Options = ["rbind", "ro"] });
            var d = lax.CheckRun(ControlRole.Operator, s, Bundle);
            Assert.False(d.Allowed, source);
            Assert.Contains($"bind mount of the host's {source} (at /x) exposes host processes or kernel state", d.Reason);
            Assert.True(lax.CheckRun(ControlRole.Admin, s, Bundle).Allowed);
        }
        // A link in an allowed root pointing at /proc is resolved first.
        var link = Path.Combine(_root, "data", "proc-link");
        File.CreateSymbolicLink(link, "/proc");
        var viaLink = Spec();
        viaLink.Mounts!.Add(new OciMount { Destination = "/x", Type = "bind", Source = link, Options = ["bind"] });
        Assert.False(lax.CheckRun(ControlRole.Operator, viaLink, Bundle).Allowed);
    }
}
