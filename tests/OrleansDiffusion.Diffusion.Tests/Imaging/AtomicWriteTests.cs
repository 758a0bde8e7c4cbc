using OrleansDiffusion.Diffusion.Imaging;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.Imaging;

public sealed class AtomicWriteTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void WrongShape_FailsBeforeTouchingTheDisk()
    {
        var path = Path.Combine(_directory.Path, "nested", "out.png");
        using var image = zeros(3, 4);

        Assert.Throws<ArgumentException>(() => PngWriter.Write(path, image, PngBitDepth.Eight, "p"));

        Assert.Empty(Directory.EnumerateFileSystemEntries(_directory.Path));
    }

    [Fact]
    public void CreatesMissingParentDirectories()
    {
        var path = Path.Combine(_directory.Path, "a", "b", "out.png");
        using var image = zeros(3, 4, 4);

        PngWriter.Write(path, image, PngBitDepth.Eight, "p");

        Assert.Equal(new[] { path }, Directory.EnumerateFiles(_directory.Path, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void UnwritableParent_LeavesNothingBehind()
    {
        // A parent path that is a file cannot become a directory (permissions do not stop root, this does).
        var blocker = _directory.File("blocker");
        File.WriteAllText(blocker, "not a directory");
        using var image = zeros(3, 4, 4);

        Assert.ThrowsAny<IOException>(() => PngWriter.Write(Path.Combine(blocker, "out.png"), image, PngBitDepth.Eight, "p"));

        Assert.Equal(new[] { blocker }, Directory.EnumerateFileSystemEntries(_directory.Path));
    }

    [Fact]
    public void FailureAfterTheImageIsWritten_RemovesTheTemporaryFile()
    {
        // The final move onto a non-empty directory fails only after the whole PNG went to the temporary file.
        var target = _directory.File("out.png");
        Directory.CreateDirectory(target);
        File.WriteAllText(Path.Combine(target, "keep"), "x");
        using var image = rand(3, 16, 16);

        var error = Record.Exception(() => PngWriter.Write(target, image, PngBitDepth.Sixteen, "p"));

        Assert.True(error is IOException or UnauthorizedAccessException, error?.ToString());
        Assert.Equal(new[] { target }, Directory.EnumerateFileSystemEntries(_directory.Path));
    }

    [Fact]
    public void ReplacesAnExistingFile()
    {
        var path = _directory.File("out.png");
        File.WriteAllText(path, "old contents");
        using var image = zeros(3, 4, 4);

        PngWriter.Write(path, image, PngBitDepth.Eight, "new");

        Assert.Equal("new", PngReader.ReadText(path, "parameters"));
        Assert.Single(Directory.EnumerateFileSystemEntries(_directory.Path));
    }

    [Fact]
    public void LargeImage_StreamsWithoutACopyOfTheImage()
    {
        const int Size = 4096;
        var path = _directory.File("large.png");
        using var generator = new Generator(1);
        using var image = rand([3, Size, Size], generator: generator) * 2 - 1;

        var before = GC.GetAllocatedBytesForCurrentThread();
        PngWriter.Write(path, image, PngBitDepth.Eight, "large");
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // A full 8-bit copy would be 48 MiB; bands are read in place, so only row and chunk buffers remain.
        Assert.InRange(allocated, 0, 4 << 20);
        Assert.Equal((Size, Size, 8), PngReader.ReadHeader(path));
        Assert.True(new FileInfo(path).Length > Size * Size * 3 / 2, "random pixels barely compress, so most bytes must be there");
    }
}
