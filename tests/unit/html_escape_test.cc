#include <gtest/gtest.h>

#include "util/html_escape.h"

using dg::util::html_escape;

TEST(HtmlEscape, TheFiveSpecialCharactersBecomeReferencesAndNothingElseChanges) {
  EXPECT_EQ(html_escape(R"(<a href="x" title='y'>&</a>)"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;");
  EXPECT_EQ(html_escape("Müller^Jürgen 10.0.0.5:104"), "Müller^Jürgen 10.0.0.5:104");  // UTF-8 untouched
  EXPECT_EQ(html_escape(""), "");
  EXPECT_EQ(html_escape("&amp;"), "&amp;amp;");  // not idempotent: escape once, at output
}
