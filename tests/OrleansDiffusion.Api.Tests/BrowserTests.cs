using System.Globalization;
using System.Text;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;
using Xunit.Abstractions;

namespace OrleansDiffusion.Api.Tests;

/// <summary>The web page in Debian's headless Chromium: submit, watch the preview and tile grid, open and zoom the result.</summary>
[Collection(ApiCollection.Name)]
public sealed class BrowserTests(ApiFixture fixture, ITestOutputHelper output) : IDisposable
{
    private readonly string _profile = Directory.CreateTempSubdirectory("odiff-chromium-").FullName;

    [Fact]
    public void The_page_submits_a_job_shows_progress_and_zooms_into_the_result()
    {
        using var driver = StartChromium();
        var js = (IJavaScriptExecutor)driver;

        driver.Navigate().GoToUrl(new Uri(fixture.OpenBase, "ui/"));
        // 1280×960 in a viewer 420 px high: the home view needs only the pyramid's coarser levels.
        Submit(driver, width: 1280, height: 960, tile: 288);
        // The preview and the tile grid follow the events: a preview of a step before the last, then the final one.
        Until(driver, "a preview of step 1 or later", d => d.FindElement(By.Id("preview")).GetDomAttribute("data-step") is { } step && int.Parse(step, CultureInfo.InvariantCulture) >= 1);
        Until(driver, "the job to complete", d => d.FindElement(By.Id("progress-text")).GetDomAttribute("data-state") == "completed");
        // The page followed the job from before its end: its first event was not the final one, and the grid was redrawn.
        Assert.NotEqual("completed", driver.FindElement(By.Id("progress-text")).GetDomAttribute("data-first-state"));
        Assert.True(int.Parse(driver.FindElement(By.Id("tile-grid")).GetDomAttribute("data-updates")!, CultureInfo.InvariantCulture) >= 2);
        var tiles = driver.FindElements(By.CssSelector("#tile-grid .tile"));
        Assert.Equal(20, tiles.Count);
        Assert.All(tiles, t =>
        {
            Assert.Equal("done", t.GetDomAttribute("data-state"));
            Assert.Matches(@"^\d+ done \d+\.\d\d s @\S+$", t.Text); // each tile's state, step time and silo
        });
        var preview = driver.FindElement(By.Id("preview"));
        Assert.True((bool)js.ExecuteScript("return arguments[0].naturalWidth > 0;", preview)!);
        var jobId = driver.FindElement(By.Id("progress-job")).Text;
        Until(driver, "the job in the job list", d => d.FindElements(By.CssSelector($"#jobs tr[data-job-id='{jobId}']")).Count == 1);

        // The result opens in OpenSeadragon from the DZI endpoint; zooming in raises the zoom and loads deeper tiles.
        Until(driver, "the viewer to open the result", d => d.FindElement(By.Id("viewer")).GetDomAttribute("data-opened") == jobId);
        int Data(string name) => int.Parse(driver.FindElement(By.Id("viewer")).GetDomAttribute("data-" + name)!, CultureInfo.InvariantCulture);
        Until(driver, "the viewer's first tiles", _ => Data("tiles-loaded") > 0);
        var maxLevel = Convert.ToInt32(js.ExecuteScript("return window.odiffViewer.world.getItemAt(0).source.maxLevel;"), CultureInfo.InvariantCulture);
        Assert.Equal(11, maxLevel); // ceil(log2(1280))
        Until(driver, "the home view to be drawn", _ => (bool)js.ExecuteScript("return window.odiffViewer.world.getItemAt(0).getFullyLoaded();")!);
        var homeLevel = Data("max-level");
        Assert.True(homeLevel < maxLevel, $"the home view already loaded level {homeLevel} of {maxLevel}");
        double Zoom() => Convert.ToDouble(js.ExecuteScript("return window.odiffViewer.viewport.getZoom(true);"), CultureInfo.InvariantCulture);
        var before = Zoom();
        driver.FindElement(By.Id("zoom-in")).Click();
        driver.FindElement(By.Id("zoom-in")).Click();
        Until(driver, "the zoom to reach 3× the home zoom", _ => Zoom() > before * 3);
        // The full-resolution level's tiles arrive from the DZI endpoint, and the zoomed view is drawn from them.
        Until(driver, "tiles of the full-resolution level", _ => Data("max-level") == maxLevel);
        Until(driver, "the zoomed view to be drawn", _ => (bool)js.ExecuteScript("return window.odiffViewer.world.getItemAt(0).getFullyLoaded();")!);
        var bounds = Convert.ToDouble(js.ExecuteScript("return window.odiffViewer.viewport.getBounds(true).width;"), CultureInfo.InvariantCulture);
        Assert.True(bounds < 0.5, $"the zoomed view still shows {bounds:P0} of the image's width");
        var canvasHasPixels = (bool)js.ExecuteScript(
            "const c = document.querySelector('#viewer canvas'); const d = c.getContext('2d').getImageData(c.width/2, c.height/2, 1, 1).data; return d[3] > 0;")!;
        Assert.True(canvasHasPixels);

        var path = Artifacts.File("web-page.png");
        ((ITakesScreenshot)driver).GetScreenshot().SaveAsFile(path);
        output.WriteLine($"screenshot: {path}");
        Assert.True(new FileInfo(path).Length > 1000);
    }

    [Fact]
    public void With_api_keys_the_page_sends_the_key_on_every_request_the_viewer_s_tiles_included()
    {
        using var driver = StartChromium();
        var js = (IJavaScriptExecutor)driver;
        driver.Navigate().GoToUrl(new Uri(fixture.Http.BaseAddress!, "ui/"));

        // Without a key the submit is refused and the page says so. Tile and overlap left empty: the server picks them.
        Submit(driver, width: 128, height: 96, tile: null);
        Until(driver, "the refusal to show", d => d.FindElement(By.Id("submit-error")).Text.Contains("Unauthorized", StringComparison.Ordinal));
        Assert.Empty(driver.FindElements(By.CssSelector("#jobs tbody tr")));

        driver.FindElement(By.Id("api-key")).SendKeys(ApiFixture.Key + Keys.Tab);
        driver.FindElement(By.Id("submit")).Click();
        Until(driver, "the job to complete", d => d.FindElement(By.Id("progress-text")).GetDomAttribute("data-state") == "completed");
        var jobId = driver.FindElement(By.Id("progress-job")).Text;
        Assert.Equal("", driver.FindElement(By.Id("submit-error")).Text);
        Until(driver, "the viewer to open the result", d => d.FindElement(By.Id("viewer")).GetDomAttribute("data-opened") == jobId);
        Until(driver, "the home view to be drawn", _ => (bool)js.ExecuteScript("return window.odiffViewer.world.getItemAt(0).getFullyLoaded();")!);

        // Every request after the key was entered succeeded: the events, the job list, the descriptor and its tiles.
        var requests = ((IEnumerable<object>)js.ExecuteScript(
            "return performance.getEntriesByType('resource').filter(e => e.name.includes('/v1/jobs/" + jobId + "')).map(e => e.responseStatus + ' ' + new URL(e.name).pathname);")!)
            .Cast<string>().ToList();
        Assert.Contains($"200 /v1/jobs/{jobId}/events", requests);
        Assert.Contains($"200 /v1/jobs/{jobId}/dzi", requests);
        var tiles = requests.Where(r => r.Contains("/dzi_files/", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(tiles);
        Assert.All(tiles, r => Assert.StartsWith("200 ", r, StringComparison.Ordinal));
        Assert.True(int.Parse(driver.FindElement(By.Id("viewer")).GetDomAttribute("data-tiles-loaded")!, CultureInfo.InvariantCulture) >= tiles.Count);
        Until(driver, "the job in the job list", d => d.FindElements(By.CssSelector($"#jobs tr[data-job-id='{jobId}']")).Count == 1);
    }

    /// <summary>Fills the page's form (terrain, gaussian, 4 steps) and presses Generate.</summary>
    private static void Submit(IWebDriver driver, int width, int height, int? tile)
    {
        void Set(string id, string value)
        {
            var input = driver.FindElement(By.Id(id));
            input.Clear();
            input.SendKeys(value);
        }
        Set("prompt", "terrain");
        Set("width", width.ToString(CultureInfo.InvariantCulture));
        Set("height", height.ToString(CultureInfo.InvariantCulture));
        if (tile is { } side)
        {
            Set("tile", side.ToString(CultureInfo.InvariantCulture));
            Set("overlap", "32");
        }
        Set("steps", "4");
        Set("seed", "42");
        driver.FindElement(By.XPath("//select[@id='sync']/option[text()='gaussian']")).Click();
        driver.FindElement(By.Id("submit")).Click();
    }

    private ChromeDriver StartChromium()
    {
        var options = new ChromeOptions { BinaryLocation = "/usr/bin/chromium" };
        options.AddArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
            $"--user-data-dir={_profile}", "--window-size=1280,1000");
        options.SetLoggingPreference(LogType.Browser, LogLevel.All);
        var service = ChromeDriverService.CreateDefaultService("/usr/bin", "chromedriver");
        service.HideCommandPromptWindow = true;
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }

    /// <summary>Waits (up to a generous cap) for a condition on the page; on a time-out keeps what shows why.</summary>
    private void Until(IWebDriver driver, string what, Func<IWebDriver, bool> condition)
    {
        try
        {
            new WebDriverWait(driver, TimeSpan.FromMinutes(2)).Until(condition);
        }
        catch (WebDriverTimeoutException e)
        {
            throw new WebDriverTimeoutException($"waiting for {what}: {e.Message}; {KeepDiagnostics(driver)}", e);
        }
    }

    /// <summary>A screenshot, the browser's console and the requests the page made, kept as artifacts.</summary>
    private string KeepDiagnostics(IWebDriver driver)
    {
        var screenshot = Artifacts.File("web-page-failure.png");
        ((ITakesScreenshot)driver).GetScreenshot().SaveAsFile(screenshot);
        var report = new StringBuilder();
        report.AppendLine("console:");
        foreach (var entry in driver.Manage().Logs.GetLog(LogType.Browser)) report.AppendLine(CultureInfo.InvariantCulture, $"  {entry.Level} {entry.Message}");
        report.AppendLine("requests:");
        var requests = ((IJavaScriptExecutor)driver).ExecuteScript(
            "return performance.getEntriesByType('resource').map(e => e.responseStatus + ' ' + e.initiatorType + ' ' + e.name);");
        if (requests is IEnumerable<object> list) foreach (var request in list) report.AppendLine(CultureInfo.InvariantCulture, $"  {request}");
        var text = Artifacts.File("web-page-failure.txt");
        File.WriteAllText(text, report.ToString());
        output.WriteLine(report.ToString());
        return $"see {screenshot} and {text}";
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // Chromium may still hold a lock file for a moment.
        }
    }
}
