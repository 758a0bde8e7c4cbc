using System.Runtime.InteropServices;

namespace OrleansDiffusion.Cli;

/// <summary>Whether a path is a regular file, without opening it (opening a FIFO blocks until someone writes to it).
/// .NET does not expose the file type on Unix, so this asks Linux's <c>statx</c>, whose layout is the same on every
/// architecture; where that call is missing, every existing non-folder counts as regular.</summary>
internal static partial class FileKind
{
    private const int AtCurrentDirectory = -100;
    private const uint StatxType = 0x1;
    private const int ModeOffset = 28; // stx_mask, stx_blksize (u32), stx_attributes (u64), stx_nlink, stx_uid, stx_gid (u32)
    private const int TypeMask = 0xF000;
    private const int RegularFile = 0x8000;

    /// <summary>True for a regular file (symbolic links followed); false for folders, FIFOs, sockets and devices.</summary>
    public static bool IsRegularFile(string path)
    {
        if (Directory.Exists(path) || !File.Exists(path)) return false;
        if (!OperatingSystem.IsLinux()) return true;
        var buffer = new byte[256];
        try
        {
            if (Statx(AtCurrentDirectory, path, 0, StatxType, buffer) != 0) return true;
        }
        catch (EntryPointNotFoundException)
        {
            return true;
        }
        return (BitConverter.ToUInt16(buffer, ModeOffset) & TypeMask) == RegularFile;
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directory, string path, int flags, uint mask, [Out] byte[] buffer);
}
