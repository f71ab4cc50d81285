using System.Text.Json.Nodes;
using Supervisor.Security.Tests.Infrastructure;

namespace Supervisor.Security.Tests;

/// <summary>
/// Class 4, CVE-2021-30465, CVE-2024-45310, CVE-2026-41579: symlinks in an image's rootfs redirect the
/// runtime's mkdir, mknod and mount calls to the host. Defence: every destination is resolved inside the
/// rootfs with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), missing directories are created with
/// mkdirat on the fd of the resolved parent, and mounts go through /proc/self/fd/N of that fd
/// (native/src/shim_rootfs.c: shim_open_in_root, mkdir_all_in_root, do_mount, do_device); /proc and /sys
/// must be real directories (RESOLVE_NO_SYMLINKS).
/// </summary>
public sealed class SymlinkRootfsTests : IDisposable
{
    private readonly StateRoot _root = new();

    public void Dispose() => _root.Dispose();

    private static string Rand() => Guid.NewGuid().ToString("N")[..8];

    private static void AddMount(Bundle b, string dest, string type, string source, params string[] options) =>
        b.Config["mounts"]!.AsArray().Add(new JsonObject
        {
            ["destination"] = dest, ["type"] = type, ["source"] = source,
            ["options"] = new JsonArray(options.Select(o => (JsonNode?)JsonValue.Create(o)).ToArray()),
        });

    private static void RemoveMount(Bundle b, string dest)
    {
        var mounts = b.Config["mounts"]!.AsArray();
        foreach (var m in mounts.ToList())
            if ((string?)m!["destination"] == dest)
                mounts.Remove(m);
    }

    private static void ReplaceWithSymlink(string path, string target)
    {
        if (Directory.Exists(path))
            Directory.Delete(path, recursive: true);
        File.CreateSymbolicLink(path, target);
    }

    [RootFact]
    public void Mount_destinations_behind_absolute_and_relative_symlinks_stay_inside_the_rootfs()
    {
        using var canary = new Canary("svsec-m2");
        var etcName = "svsec-x-" + Rand();
        var canaryName = Path.GetFileName(canary.Dir);
        using var b = new Bundle(_root.Path);
        File.CreateSymbolicLink(Path.Combine(b.RootfsPath, "mnt2"), "/etc");
        File.CreateSymbolicLink(Path.Combine(b.RootfsPath, "m2"), "../../../../../../../../../tmp");
        var src = Path.Combine(b.Dir, "src");
        Directory.CreateDirectory(src);
        File.WriteAllText(Path.Combine(src, "payload"), "bound");
        AddMount(b, "/mnt2/" + etcName, "bind", src, "rbind");
        AddMount(b, $"/m2/{canaryName}/y", "tmpfs", "tmpfs");
        b.Process["args"] = Containers.Args("/bin/sh", "-c",
            $"cat /etc/{etcName}/payload; echo; grep -c ' /tmp/{canaryName}/y ' /proc/self/mountinfo");
        b.Save();
        var snapshot = HostSnapshot.Take([canary.Dir, "/etc"], "/etc/" + etcName);

        var r = Cli.Run(_root.Path, "run", "-b", b.Dir, StateRoot.NewId("symmnt"));
        Assert.True(r.ExitCode == 0, r.ToString());
        // Resolved as if the rootfs were "/": the mounts exist, at the symlink targets inside the container.
        Assert.Equal("bound\n1\n", r.Stdout);
        Assert.True(Directory.Exists(Path.Combine(b.RootfsPath, "etc", etcName)));
        Assert.True(Directory.Exists(Path.Combine(b.RootfsPath, "tmp", canaryName, "y")));
        snapshot.AssertUnchanged();
    }

    [RootFact]
    public void Dangling_symlinks_to_host_paths_create_nothing_on_the_host()
    {
        // CVE-2024-45310: the targets exist nowhere, so a path-following MkdirAll would create them on the
        // host. Refusing (a dangling symlink is never followed to create) or creating inside are both fine.
        var escape1 = "/tmp/svsec-escape-" + Rand();
        var escape2 = "/tmp/svsec-escape2-" + Rand();
        using var b = new Bundle(_root.Path, args: ["/bin/true"]);
        File.CreateSymbolicLink(Path.Combine(b.RootfsPath, "a"), escape1);
        File.CreateSymbolicLink(Path.Combine(b.RootfsPath, "b"), "../../../../../../../../.." + escape2);
        var srcFile = Path.Combine(b.Dir, "srcfile");
        File.WriteAllText(srcFile, "file-bound");
        foreach (var (dest, type, source) in new[] { ("/a/x/y", "tmpfs", "tmpfs"), ("/b/f", "bind", srcFile) })
        {
            var mounts = b.Config["mounts"]!.AsArray();
            AddMount(b, dest, type, source, type == "bind" ? "bind" : "nosuid");
            b.Save();
            var snapshot = HostSnapshot.Take(null, escape1, escape2);
            var r = Cli.Run(_root.Path, "run", "-b", b.Dir, StateRoot.NewId("dangle"));
            if (r.ExitCode != 0)
                Assert.Contains(dest, r.Stderr);
            snapshot.AssertUnchanged();
            mounts.RemoveAt(mounts.Count - 1);
        }
    }

    [RootFact]
    public void A_dev_symlinked_outside_the_rootfs_gets_no_device_link_or_mount_on_the_host()
    {
        foreach (var relative in new[] { false, true })
        {
            var outDev = "/tmp/svsec-outdev-" + Rand();
            Directory.CreateDirectory(outDev);
            File.WriteAllText(Path.Combine(outDev, "ptmx"), "marker, not a device");
            try
            {
                using var b = new Bundle(_root.Path, args: ["/bin/sh", "-c", "ls /dev/ >/dev/null; echo ok"]);
                RemoveMount(b, "/dev");
                b.Save();
                ReplaceWithSymlink(Path.Combine(b.RootfsPath, "dev"), relative ? "../../../../../../../.." + outDev : outDev);
                var snapshot = HostSnapshot.Take([outDev]);
                var r = Cli.Run(_root.Path, "run", "-b", b.Dir, StateRoot.NewId("symdev"));
                // Either outcome is acceptable; what matters is that nothing reached the host directory.
                if (r.ExitCode == 0)
                    Assert.True(File.Exists(Path.Combine(b.RootfsPath, outDev.TrimStart('/'), "null")), r.ToString());
                snapshot.AssertUnchanged();
                Assert.Equal(["ptmx"], Directory.GetFileSystemEntries(outDev).Select(Path.GetFileName));
            }
            finally
            {
                Directory.Delete(outDev, recursive: true);
            }
        }
    }

    [RootFact]
    public void A_proc_symlinked_outside_is_refused_and_nothing_is_created_on_the_host()
    {
        var outProc = "/tmp/svsec-proc-" + Rand();
        using var b = new Bundle(_root.Path, args: ["/bin/true"]);
        ReplaceWithSymlink(Path.Combine(b.RootfsPath, "proc"), outProc);
        var snapshot = HostSnapshot.Take(null, outProc);
        var r = Cli.Run(_root.Path, "run", "-b", b.Dir, StateRoot.NewId("symproc"));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("/proc", r.Stderr);
        Assert.False(Path.Exists(Path.Combine(b.RootfsPath, outProc.TrimStart('/'))));
        snapshot.AssertUnchanged();
    }
}
