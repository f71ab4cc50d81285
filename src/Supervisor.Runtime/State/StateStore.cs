using System.Text.Json;
using Supervisor.Linux;

namespace Supervisor.Runtime.State;

/// <summary>
/// The state root (runc's --root): one directory per container holding state.json, exit.json and
/// shim.sock. The root is 0700 and container directories 0711 (runc's modes). Writes are atomic: a temp
/// file in the same directory, fsync, rename over the old file, fsync of the directory, so that a crash
/// leaves either the old or the new record, never a torn one.
/// </summary>
public sealed class StateStore
{
    public const string StateFileName = "state.json";
    public const string ExitFileName = "exit.json";
    public const string ShimSocketName = "shim.sock";

    public StateStore(string root)
    {
        Root = Path.GetFullPath(root);
    }

    public string Root { get; }

    public string ContainerDir(string id) => Path.Combine(Root, id);

    /// <summary>
    /// Creates the state root with mode 0700. The state root holds state.json and the shims' control
    /// sockets (CVE-2020-15257: a control API reachable from a container is an escape), so only its
    /// owner may traverse it.
    /// </summary>
    public void EnsureRoot()
    {
        Directory.CreateDirectory(Root);
        File.SetUnixFileMode(Root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>Creates the container directory; fails if it already exists (the id is taken).</summary>
    public string CreateContainerDir(string id)
    {
        EnsureRoot();
        var dir = ContainerDir(id);
        try
        {
            // Directory.CreateDirectory succeeds on an existing directory, so use mkdir(2) semantics.
            FileSystemNative.MkdirExclusive(dir, 0b111_001_001);
        }
        catch (SyscallException e) when (e.Errno == Errno.EEXIST)
        {
            throw new ContainerExistsException(id);
        }
        return dir;
    }

    public bool Exists(string id) => File.Exists(Path.Combine(ContainerDir(id), StateFileName));

    public IEnumerable<string> ListIds()
    {
        if (!Directory.Exists(Root))
            yield break;
        foreach (var dir in Directory.EnumerateDirectories(Root).OrderBy(d => d, StringComparer.Ordinal))
        {
            if (File.Exists(Path.Combine(dir, StateFileName)))
                yield return Path.GetFileName(dir);
        }
    }

    public StateFile Read(string id)
    {
        var path = Path.Combine(ContainerDir(id), StateFileName);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException)
        {
            throw new ContainerNotFoundException(id);
        }
        catch (DirectoryNotFoundException)
        {
            throw new ContainerNotFoundException(id);
        }
        try
        {
            return JsonSerializer.Deserialize(bytes, RuntimeJsonContext.Default.StateFile)
                   ?? throw new CorruptStateException(id, "state.json is empty");
        }
        catch (JsonException e)
        {
            throw new CorruptStateException(id, e.Message);
        }
    }

    public void Write(StateFile state)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(state, RuntimeJsonContext.Default.StateFile);
        AtomicFile.Write(Path.Combine(ContainerDir(state.Id), StateFileName), bytes);
    }

    /// <summary>The exit record the shim wrote, or null while the init has not exited.</summary>
    public ExitRecord? ReadExit(string id)
    {
        var path = Path.Combine(ContainerDir(id), ExitFileName);
        try
        {
            var bytes = File.ReadAllBytes(path);
            return JsonSerializer.Deserialize(bytes, RuntimeJsonContext.Default.ExitRecord);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (JsonException)
        {
            // The shim renames a complete file into place, so a parse failure means tampering; treat it as
            // "exit status unknown" rather than failing every command on this container.
            return null;
        }
    }

    public void Remove(string id)
    {
        var dir = ContainerDir(id);
        if (Directory.Exists(dir))
            Directory.Delete(dir, recursive: true);
    }
}

/// <summary>Atomic replacement of a small file: temp + fsync + rename + fsync(dir).</summary>
public static class AtomicFile
{
    public static void Write(string path, ReadOnlySpan<byte> bytes)
    {
        var dir = Path.GetDirectoryName(path)!;
        var tmp = Path.Combine(dir, "." + Path.GetFileName(path) + "." + Environment.ProcessId + ".tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.None))
            {
                fs.Write(bytes);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
            FileSystemNative.FsyncDirectory(dir);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }
}
