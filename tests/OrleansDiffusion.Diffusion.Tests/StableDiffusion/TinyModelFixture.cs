using OrleansDiffusion.Diffusion.StableDiffusion;

namespace OrleansDiffusion.Diffusion.Tests.StableDiffusion;

/// <summary>One tiny model folder (seed 0) written for a test class, and its loaded model.</summary>
public sealed class TinyModelFixture : IDisposable
{
    public TinyModelFixture()
    {
        TinyModel.Write(Folder);
        Model = DiffusersFolder.Open(Folder).Load();
    }

    public string Folder { get; } = Directory.CreateTempSubdirectory("odiff-tiny-").FullName;
    public StableDiffusionModel Model { get; }

    public void Dispose()
    {
        Model.Dispose();
        Directory.Delete(Folder, recursive: true);
    }
}
