using System.Diagnostics;
using Supervisor.Linux.Shim;

namespace Supervisor.Runtime.Tests.Seccomp;

/// <summary>
/// Builds seccomp-apply.c with gcc into a temporary directory and runs it: the helper loads a compiled
/// program into itself (no_new_privs + seccomp(2)) and then execs a command or makes one raw syscall.
/// </summary>
public sealed class SeccompKernelFixture : IDisposable
{
    public const string Busybox = "/bin/busybox";

    public SeccompKernelFixture()
    {
        Dir = Directory.CreateTempSubdirectory("seccomp-tests-").FullName;
        Helper = Path.Combine(Dir, "seccomp-apply");
        var source = Path.Combine(AppContext.BaseDirectory, "Seccomp", "seccomp-apply.c");
        var gcc = Run("gcc", ["-Wall", "-Wextra", "-Werror", "-O2", "-o", Helper, source]);
        if (gcc.ExitCode != 0)
        {
            throw new InvalidOperationException($"gcc failed: {gcc.Stderr}");
        }
    }

    public string Dir { get; }

    public string Helper { get; }

    public void Dispose() => Directory.Delete(Dir, recursive: true);

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    /// <summary>Loads <paramref name="filter"/> (null = none) and execs <paramref name="command"/>.</summary>
    public Result Exec(ShimSeccomp? filter, params string[] command)
    {
        var args = new List<string> { WriteProgram(filter), (filter?.Flags ?? 0).ToString(), "--" };
        args.AddRange(command);
        return Run(Helper, args);
    }

    /// <summary>Loads <paramref name="filter"/> and makes syscall <paramref name="nr"/>; "ret=N" or "errno=N".</summary>
    public string Syscall(ShimSeccomp? filter, int nr, params ulong[] args)
    {
        var argv = new List<string> { WriteProgram(filter), (filter?.Flags ?? 0).ToString(), "--syscall", nr.ToString() };
        argv.AddRange(args.Select(a => "0x" + a.ToString("x")));
        var r = Run(Helper, argv);
        Assert.True(r.ExitCode == 0, $"seccomp-apply exited {r.ExitCode}: {r.Stderr}");
        return r.Stdout.Trim();
    }

    /// <summary>Like <see cref="Syscall"/>, but through int $0x80 (the i386 ABI) from the 64-bit helper.</summary>
    public Result Syscall32(ShimSeccomp? filter, int nr, params ulong[] args)
    {
        var argv = new List<string> { WriteProgram(filter), (filter?.Flags ?? 0).ToString(), "--syscall32", nr.ToString() };
        argv.AddRange(args.Select(a => "0x" + a.ToString("x")));
        return Run(Helper, argv);
    }

    private string WriteProgram(ShimSeccomp? filter)
    {
        if (filter is null)
        {
            return "-";
        }

        var path = Path.Combine(Dir, $"prog-{Guid.NewGuid():N}.bpf");
        File.WriteAllBytes(path, filter.Program);
        return path;
    }

    public static Result Run(string file, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        // busybox pwd prints $PWD when it names the current directory; without it, it must call getcwd.
        psi.Environment.Remove("PWD");
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}

[CollectionDefinition(Name)]
public sealed class SeccompKernelCollection : ICollectionFixture<SeccompKernelFixture>
{
    public const string Name = "seccomp kernel";
}
