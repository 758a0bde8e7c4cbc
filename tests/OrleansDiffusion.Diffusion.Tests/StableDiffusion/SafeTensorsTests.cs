using System.Buffers.Binary;
using System.Text;
using OrleansDiffusion.Diffusion.StableDiffusion;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.StableDiffusion;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("odiff-st-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Round_trip_keeps_values_and_converts_half_precision_to_float32()
    {
        var path = Path.Combine(_dir, "a.safetensors");
        using var a = arange(6, ScalarType.Float32).reshape(2, 3);
        using var b = tensor(new[] { 0.5f, -2f }).to(ScalarType.Float16);
        using var c = tensor(new[] { 1.5f }).to(ScalarType.BFloat16);
        SafeTensorsFile.Write(path, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b, ["c"] = c });

        var file = SafeTensorsFile.Open(path);
        using var a2 = file.Load("a");
        using var b2 = file.Load("b");
        using var c2 = file.Load("c");
        using var keptHalf = file.Load("b", ScalarType.Float16);

        Assert.Equal(["F32", "F16", "BF16"], new[] { "a", "b", "c" }.Select(n => file.Entries[n].DType));
        Assert.Equal([2L, 3], a2.shape);
        Assert.Equal(a.data<float>().ToArray(), a2.data<float>().ToArray());
        Assert.Equal([0.5f, -2f], b2.data<float>().ToArray());
        Assert.Equal([1.5f], c2.data<float>().ToArray());
        Assert.Equal(ScalarType.Float16, keptHalf.dtype);
    }

    [Theory]
    [InlineData("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[8],\"data_offsets\":[0,8]}}", 8, "'w': dtype F8_E4M3 is not supported")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "'w': F32 [3] needs 12 bytes")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", 8, "'w': data_offsets are outside")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "'w': header entry needs dtype, shape and data_offsets")]
    [InlineData("{\"w\":", 8, "header is not valid JSON")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "4 bytes after the last tensor")]
    public void Malformed_headers_name_the_file_and_the_tensor(string header, int dataBytes, string expected)
    {
        var path = Path.Combine(_dir, "bad.safetensors");
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, json.Length);
        json.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<ModelFormatException>(() => SafeTensorsFile.Open(path));
        Assert.StartsWith(path, error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Header_length_beyond_the_file_is_an_error()
    {
        var path = Path.Combine(_dir, "short.safetensors");
        var bytes = new byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, 1000);
        File.WriteAllBytes(path, bytes);

        Assert.Contains("header length 1000 is invalid", Assert.Throws<ModelFormatException>(() => SafeTensorsFile.Open(path)).Message);
    }
}
