using System.Security.Cryptography;
using System.Text.Json;
using Supervisor.Linux.Seccomp;
using Supervisor.Linux.Shim;
using Supervisor.Runtime.Configs;
using Supervisor.Runtime.State;

namespace Supervisor.Runtime.Seccomp;

/// <summary>
/// Compiled filters, kept by content. libseccomp needs 15-20 ms to turn a Docker-sized profile into BPF,
/// more than the rest of a container start; the same profile always yields the same program for the
/// same libseccomp and architecture, so the program is stored under the state root (root-only, 0700)
/// keyed by a hash of the profile, the libseccomp API level and the native architecture. The directory
/// name has a colon, which no container id can contain, so it never collides with a container.
/// </summary>
public static class SeccompCache
{
    private const int FormatVersion = 1;

    public static ShimSeccomp GetOrCompile(SeccompConfig config, string cacheDir)
    {
        var path = Path.Combine(cacheDir, Key(config) + ".bpf");
        if (TryRead(path) is { } cached)
            return cached;
        var compiled = SeccompCompiler.Compile(config);
        try
        {
            Directory.CreateDirectory(cacheDir);
            var bytes = new byte[4 + compiled.Program.Length];
            BitConverter.TryWriteBytes(bytes, compiled.Flags);
            compiled.Program.CopyTo(bytes, 4);
            AtomicFile.Write(path, bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A cache that cannot be written only costs the next start the compile again.
        }
        return compiled;
    }

    internal static string Key(SeccompConfig config)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(config, RuntimeJsonContext.Default.SeccompConfig);
        var salt = System.Text.Encoding.ASCII.GetBytes($"v{FormatVersion}:api{SeccompFilter.ApiLevel}:arch{SeccompFilter.NativeArch}:");
        return Convert.ToHexStringLower(SHA256.HashData([.. salt, .. json]));
    }

    private static ShimSeccomp? TryRead(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        // A torn or foreign file is ignored: the program must be whole sock_filter entries.
        if (bytes.Length < 4 + SeccompFilter.InstructionSize || (bytes.Length - 4) % SeccompFilter.InstructionSize != 0)
            return null;
        return new ShimSeccomp(BitConverter.ToUInt32(bytes, 0), bytes[4..]);
    }
}
