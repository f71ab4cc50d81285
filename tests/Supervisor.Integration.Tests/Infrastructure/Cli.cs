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

    public static CliResult RunIn(string? workingDir, string stateRoot, params string[] args) =>
        ProcessRunner.Run(TestPaths.Cli, ["--root", stateRoot, .. args], workingDir, "supervisor " + string.Join(' ', args));
}

/// <summary>Runs a program to its end with stdin closed and both output streams captured.</summary>
public static class ProcessRunner
{
    public static CliResult Run(string file, IEnumerable<string> argv, string? workingDir, string what, int timeoutSeconds = 120)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (workingDir is not null)
            psi.WorkingDirectory = workingDir;
        foreach (var a in argv)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        // Read both streams concurrently; a detached container keeps the pipes open, so the reads only
        // complete once every holder is gone: callers of detached runs must redirect the container's stdio.
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(timeoutSeconds)))
        {
            p.Kill(true);
            throw new TimeoutException($"{what} did not finish");
        }
        return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
    }
}

public static class Shell
{
    /// <summary>Runs a host command line through /bin/sh and returns its result.</summary>
    public static CliResult Run(string command, int timeoutSeconds = 120) =>
        ProcessRunner.Run("/bin/sh", ["-c", command], null, "sh -c " + command, timeoutSeconds);

    public static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";
}
