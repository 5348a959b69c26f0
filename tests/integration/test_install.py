"""Installing dicomguard: `cmake --install` of the built tree into a temporary prefix, then what a user gets
there: a binary that runs, a man page per subcommand that renders with its flags, and bash and zsh completions
that complete subcommands, flags and flag values (files, choices). No network: the Debian package in a fresh
Debian is `make deb-test` (scripts/deb-test.sh), not part of the default suite.
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from helpers import BINARY

BUILD = os.path.dirname(os.path.abspath(BINARY))


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


@unittest.skipUnless(shutil.which("help2man"), "help2man is not installed (scripts/setup-debian.sh installs it): "
                                               "the build makes no man pages to install")
class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Both are part of ALL; build them here too when only the binary was built (ninja -C build dicomguard).
        r = run(["cmake", "--build", BUILD, "--target", "man", "completions"])
        assert r.returncode == 0, "building the man pages and completions failed:\n" + r.stdout + r.stderr
        cls.tmp = tempfile.mkdtemp(prefix="dg-install-")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        r = run(["cmake", "--install", BUILD, "--prefix", cls.prefix])
        assert r.returncode == 0, "cmake --install failed:\n" + r.stdout + r.stderr
        cls.commands = run([BINARY, "completion", "commands"]).stdout.split()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.prefix, *parts)

    def test_binary_runs_from_the_prefix(self):
        installed = run([self.path("bin", "dicomguard"), "--version"])
        self.assertEqual(installed.returncode, 0, installed.stderr)
        self.assertEqual(installed.stdout, run([BINARY, "--version"]).stdout)
        self.assertRegex(installed.stdout, r"^dicomguard \d+\.\d+\.\d+\n$")

    def test_commands_lists_the_visible_subcommands(self):
        for name in ("scan", "tls", "files", "report", "demo", "deid", "ca", "gateway", "weblog", "audit"):
            self.assertIn(name, self.commands)
        self.assertNotIn("completion", self.commands)  # hidden
        self.assertNotIn("completion", run([BINARY, "--help"]).stdout)

    def test_a_man_page_for_every_subcommand(self):
        man1 = self.path("share", "man", "man1")
        self.assertTrue(os.path.isfile(os.path.join(man1, "dicomguard.1.gz")))
        missing = [c for c in self.commands if not os.path.isfile(os.path.join(man1, "dicomguard-%s.1.gz" % c))]
        self.assertEqual(missing, [])
        # nested subcommands have theirs too
        self.assertTrue(os.path.isfile(os.path.join(man1, "dicomguard-ca-issue.1.gz")))

    def render(self, page):
        f = self.path("share", "man", "man1", page)
        env = dict(os.environ, LC_ALL="C", MANWIDTH="120", MANPAGER="cat", PAGER="cat")
        if shutil.which("man"):
            r = run(["man", "-l", f], env=env)
        else:
            r = run(["sh", "-c", 'zcat "$1" | groff -man -Tascii', "sh", f], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        return re.sub(r".\x08", "", r.stdout)  # overstrike bold and underline

    def test_scan_page_renders_with_its_flags(self):
        text = self.render("dicomguard-scan.1.gz")
        self.assertIn("--shard", text)
        self.assertIn("--input-list", text)
        self.assertRegex(text, r"dicomguard-scan - Find DICOM services")
        self.assertIn("dicomguard(1)", text)  # SEE ALSO
        main = self.render("dicomguard.1.gz")
        self.assertIn("dicomguard-scan(1)", main)

    def bash_complete(self, *words):
        script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _dicomguard; '
                  'printf "%s\\n" "${COMPREPLY[@]}"')
        f = self.path("share", "bash-completion", "completions", "dicomguard")
        r = run(["bash", "--norc", "--noprofile", "-c", script, "bash", f, *words])
        self.assertEqual(r.returncode, 0, r.stderr)
        return [w for w in r.stdout.split("\n") if w]

    def test_bash_completes_subcommands_and_flags(self):
        self.assertEqual(self.bash_complete("dicomguard", "sc"), ["scan"])
        self.assertIn("--shard", self.bash_complete("dicomguard", "scan", "--sh"))
        self.assertIn("--input-list", self.bash_complete("dicomguard", "scan", "--"))
        self.assertNotIn("--shard", self.bash_complete("dicomguard", "tls", "--"))  # per subcommand
        self.assertEqual(self.bash_complete("dicomguard", "ca", "is"), ["issue"])
        self.assertIn("--days", self.bash_complete("dicomguard", "ca", "issue", "--"))
        self.assertEqual(self.bash_complete("dicomguard", "ca", "issue", "--key", ""), ["ec", "rsa"])

    def test_bash_completes_flag_values(self):
        self.assertEqual(self.bash_complete("dicomguard", "scan", "--fail-on", "h"), ["high"])
        self.assertEqual(self.bash_complete("dicomguard", "scan", "--fail-on", "=", "cr"), ["critical"])
        with tempfile.TemporaryDirectory() as d:
            open(os.path.join(d, "targets.txt"), "w").close()
            self.assertEqual(self.bash_complete("dicomguard", "scan", "--input-list", d + "/tar"),
                             [d + "/targets.txt"])
            self.assertEqual(self.bash_complete("dicomguard", "scan", "--timeout", d + "/tar"), [])  # a number

    def test_zsh_script_parses_and_completes(self):
        if not shutil.which("zsh"):
            self.skipTest("zsh is not installed")
        f = self.path("share", "zsh", "vendor-completions", "_dicomguard")
        with open(f) as fh:
            self.assertEqual(fh.readline(), "#compdef dicomguard\n")
        r = run(["zsh", "-n", f])
        self.assertEqual(r.returncode, 0, r.stderr)
        # Outside compinit: stand-ins that print what the script offers.
        stubs = ('_describe() { local n=${@[-1]}; print -l -- ${(P)n} }; compadd() { shift; print -l -- "$@" }; '
                 '_files() { print @files }; _message() { print @message }; compset() { : }; ')
        def offered(*words):
            r = run(["zsh", "-f", "-c", stubs + 'words=("${@[2,-1]}"); CURRENT=$#words; source "$1"', "zsh", f,
                     *words])
            self.assertEqual(r.returncode, 0, r.stderr)
            return r.stdout.splitlines()
        self.assertTrue(any(l.startswith("scan:Find DICOM services") for l in offered("dicomguard", "sc")))
        self.assertTrue(any(l.startswith("--shard:") for l in offered("dicomguard", "scan", "--sh")))
        self.assertIn("high", offered("dicomguard", "scan", "--fail-on", ""))
        self.assertEqual(offered("dicomguard", "scan", "--input-list", ""), ["@files"])


if __name__ == "__main__":
    unittest.main()
