using System.Diagnostics;

namespace Supervisor.Integration.Tests.Infrastructure;

public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>Runs the real `supervisor` executable, as a user's script would.</summary>
public static class Cli
{
    public static CliResult Run(string stateRoot, params string[] args) => RunIn(null, stateRoot, args);

    public static CliResult RunIn(string? workingDir, string stateRoot, params string[] args)
    {
        var psi = new ProcessStartInfo(TestPaths.Cli)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (workingDir is not null)
            psi.WorkingDirectory = workingDir;
        psi.ArgumentList.Add("--root");
        psi.ArgumentList.Add(stateRoot);
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        // Read both streams concurrently; a detached container keeps the pipes open, so the reads only
        // complete once every holder is gone: callers of detached runs must redirect the container's stdio.
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            p.Kill(true);
            throw new TimeoutException($"supervisor {string.Join(' ', args)} did not finish");
        }
        return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
    }
}

public static class Shell
{
    /// <summary>Runs a host command line through /bin/sh and returns its result.</summary>
    public static CliResult Run(string command, int timeoutSeconds = 120)
    {
        var psi = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(command);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(timeoutSeconds)))
        {
            p.Kill(true);
            throw new TimeoutException($"sh -c {command} did not finish");
        }
        return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    public static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";
}
