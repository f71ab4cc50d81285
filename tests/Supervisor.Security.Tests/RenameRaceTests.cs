using System.Diagnostics;
using System.Text.Json.Nodes;
using Supervisor.Security.Tests.Infrastructure;

namespace Supervisor.Security.Tests;

/// <summary>
/// Class 4 and 5 as races (security-anchors S4, S5: CVE-2021-30465, CVE-2019-19921, CVE-2023-27561): a
/// host process swaps a real directory of the rootfs with a symlink to a host directory, using
/// renameat2(RENAME_EXCHANGE) in a tight loop, while containers are created. A runtime that checks a
/// path and then mounts or mkdirs by the same string can be redirected between the two steps. Defence:
/// the shim resolves each destination once, inside the rootfs (openat2 RESOLVE_IN_ROOT, RESOLVE_NO_SYMLINKS
/// for /proc and /sys), creates missing levels with mkdirat on the fd of the resolved parent, and mounts
/// onto /proc/self/fd/N of that fd, so no string path is resolved a second time
/// (native/src/shim_rootfs.c: shim_open_in_root, mkdir_all_in_root, do_mount).
/// </summary>
public sealed class RenameRaceTests : IDisposable
{
    private const int Iterations = 120;
    private readonly StateRoot _root = new();

    public void Dispose() => _root.Dispose();

    private static Process StartRacer(string a, string b, string stopFile)
    {
        var psi = new ProcessStartInfo(Attacker.HostPath) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "exchange-loop", a, b, stopFile })
            psi.ArgumentList.Add(arg);
        return Process.Start(psi)!;
    }

    private static long StopRacer(Process racer, string stopFile)
    {
        File.WriteAllText(stopFile, "");
        var output = racer.StandardOutput.ReadToEnd();
        racer.WaitForExit();
        racer.Dispose();
        return long.Parse(Attacker.Values(output)["swaps"]);
    }

    /// <summary>
    /// The container's mount table must show one procfs, at /proc or at the name it was swapped to, with
    /// the masks and read-only paths mounted on that procfs (by parent mount id: the kernel prints each
    /// line's path as it is at that moment, so names may differ between lines while the racer runs), the
    /// tmpfs and the bind of this run on the rootfs under racedir or racelink, and nothing mounted at the
    /// host canary's path.
    /// </summary>
    private static string? CheckMounts(string mountinfo, int i, string canaryDir)
    {
        if (mountinfo.Contains("host-canary-visible"))
            return "the host canary is visible";
        var mounts = mountinfo.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' '))
            .Select(f => (Id: f[0], Parent: f[1], Root: f[3], Point: f[4], Type: f[Array.IndexOf(f, "-") + 1]))
            .ToList();
        var rootMount = mounts.Where(m => m.Point == "/").Select(m => m.Id).SingleOrDefault();
        var procs = mounts.Where(m => m.Type == "proc" && m.Root == "/").ToList();
        if (procs.Count != 1 || procs[0].Point is not ("/proc" or "/proclink") || procs[0].Parent != rootMount)
            return "procfs mounts: " + string.Join(", ", procs.Select(p => p.Point));
        var proc = procs[0].Id;
        if (!mounts.Any(m => m.Parent == proc && m.Point.EndsWith("/keys", StringComparison.Ordinal) && m.Root == "/null"))
            return "keys is not masked on the procfs";
        if (!mounts.Any(m => m.Parent == proc && m.Type == "proc" && m.Root == "/sys"))
            return "sys is not read-only on the procfs";
        if (mounts.Any(m => m.Point.StartsWith(canaryDir, StringComparison.Ordinal)))
            return "a mount at the host canary's path";
        foreach (var name in new[] { $"t{i}", $"b{i}" })
        {
            var at = mounts.Where(m => m.Point.EndsWith("/" + name, StringComparison.Ordinal)).ToList();
            if (at.Count != 1 || at[0].Parent != rootMount || !(at[0].Point == "/racedir/" + name || at[0].Point == "/racelink/" + name))
                return $"{name} mounted at: {string.Join(", ", at.Select(m => m.Point))}";
        }
        return null;
    }

    [RootFact]
    public void Swapping_a_mount_destination_and_proc_with_host_symlinks_during_create_reaches_nothing_outside()
    {
        using var canary = new Canary("svsec-race");
        using var procCanary = new Canary("svsec-raceproc");
        using var b = new Bundle(_root.Path);
        var rootfs = b.RootfsPath;
        // racedir (a real directory, the mount parent) and racelink (a symlink to the host canary) trade
        // names; so do proc and proclink.
        Directory.CreateDirectory(Path.Combine(rootfs, "racedir"));
        File.CreateSymbolicLink(Path.Combine(rootfs, "racelink"), canary.Dir);
        File.CreateSymbolicLink(Path.Combine(rootfs, "proclink"), procCanary.Dir);
        var src = Path.Combine(b.Dir, "src");
        Directory.CreateDirectory(src);
        File.WriteAllText(Path.Combine(src, "payload"), "bound");
        var baseMounts = b.Config["mounts"]!.DeepClone().AsArray();
        var snapshot = HostSnapshot.Take([canary.Dir, procCanary.Dir]);

        var stop1 = Path.Combine(b.Dir, "stop1");
        var stop2 = Path.Combine(b.Dir, "stop2");
        var racers = new[]
        {
            StartRacer(Path.Combine(rootfs, "racedir"), Path.Combine(rootfs, "racelink"), stop1),
            StartRacer(Path.Combine(rootfs, "proc"), Path.Combine(rootfs, "proclink"), stop2),
        };
        int ran = 0, refused = 0;
        var failures = new List<string>();
        try
        {
            for (int i = 0; i < Iterations; i++)
            {
                // A new directory level per iteration, so every run has an mkdir to redirect, plus a bind
                // and a tmpfs onto it.
                var mounts = baseMounts.DeepClone().AsArray();
                mounts.Add(new JsonObject { ["destination"] = $"/racedir/t{i}", ["type"] = "tmpfs", ["source"] = "tmpfs", ["options"] = new JsonArray("nosuid") });
                mounts.Add(new JsonObject { ["destination"] = $"/racedir/b{i}", ["type"] = "bind", ["source"] = src, ["options"] = new JsonArray("rbind", "ro") });
                b.Config["mounts"] = mounts;
                // The racers keep going while the container runs, so /proc may be under either name by
                // then; the container prints its mount table through whichever name is procfs.
                b.Process["args"] = Containers.Args("/bin/sh", "-c",
                    $"test -e {canary.Dir} && echo host-canary-visible; " +
                    "for n in 1 2 3 4 5 6 7 8; do for d in /proc /proclink; do " +
                    "[ \"$(stat -f -c %T $d 2>/dev/null)\" = proc ] && cat $d/self/mountinfo 2>/dev/null && exit 0; done; done; exit 3");
                b.Save();
                var r = Cli.Run(_root.Path, "run", "-b", b.Dir, $"race-{i}");
                if (r.ExitCode == 0)
                {
                    ran++;
                    if (CheckMounts(r.Stdout, i, canary.Dir) is { } problem)
                        failures.Add($"run {i}: {problem}\n{r.Stdout}");
                }
                else
                {
                    // Refusing is a correct outcome (a destination was a symlink when it was resolved); it
                    // must be a clean one-line refusal from the runtime, not the container's exit 3.
                    refused++;
                    Assert.True(r.ExitCode != 3 && r.Stderr.Trim().Split('\n').Length == 1, r.ToString());
                }
                Cli.Run(_root.Path, "delete", "--force", $"race-{i}");
            }
        }
        finally
        {
            var swaps = StopRacer(racers[0], stop1) + StopRacer(racers[1], stop2);
            Assert.True(swaps > 0, "the racers never swapped anything");
        }
        Assert.True(failures.Count == 0, string.Join('\n', failures));
        // Nothing was created in, mounted on, or written to the host directories the symlinks point at.
        snapshot.AssertUnchanged();
        Assert.Equal(Iterations, ran + refused);
    }
}
