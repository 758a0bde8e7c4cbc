using Microsoft.Extensions.Options;
using OrleansDiffusion.Hosting;

var builder = WebApplication.CreateBuilder(args);
var options = builder.Configuration.GetSection(DiffusionSiloOptions.Section).Get<DiffusionSiloOptions>() ?? new DiffusionSiloOptions();
try
{
    builder.AddOrleansDiffusionSilo(options);
}
catch (OptionsValidationException e)
{
    foreach (var failure in e.Failures) Console.Error.WriteLine($"error: {failure}");
    return 2;
}

var app = builder.Build();
app.MapOrleansDiffusionEndpoints();
await app.RunAsync();
return 0;
