#include "overlays/yaml_fast.h"

#include <yaml-cpp/emitterstyle.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/mark.h>

#include <cstring>
#include <string>

namespace windlass::overlays {
namespace {

// Thrown inside the scanner when the text leaves the subset; caught in
// scanYamlFast only.
struct GiveUp {};

const std::string kPlainTag = "?";     // yaml-cpp's tag for plain scalars
const std::string kNonPlainTag = "!";  // and for quoted and block ones

// Deeper than parseYaml's default limit (256): the handler stops first.
constexpr int kMaxDepth = 300;

bool isNullString(std::string_view s) {
  return s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// The scanner works line by line. lineStart_ is the start of the current line,
// line_ its number (0-based); content_ is the first character of the content
// line found by nextContent().
class FastScanner {
 public:
  FastScanner(std::string_view text, YAML::EventHandler& handler) : t_(text), h_(handler) {}

  void run() {
    checkBytes();
    int ind = nextContent();
    while (!atEnd()) {
      h_.OnDocumentStart(markAt(content_));
      if (atDocStart_) {
        // "---" alone on its line (a comment may follow).
        size_t p = skipSpaces(content_ + 3, lineEnd(content_));
        if (p != lineEnd(content_) && (t_[p] != '#' || p == content_ + 3)) giveUp();
        nextLine(lineEnd(content_));
        ind = nextContent();
      }
      if (ind < 0) {
        h_.OnNull(markAt(content_), YAML::NullAnchor);
      } else {
        ind = blockNode(ind, -1, 0);
        if (ind >= 0) giveUp();  // content left over at a smaller indentation
      }
      h_.OnDocumentEnd();
    }
  }

 private:
  [[noreturn]] static void giveUp() { throw GiveUp{}; }

  // Rejects bytes yaml-cpp reads differently (tabs, carriage returns, control
  // characters) and a first byte that could switch it to UTF-16 or UTF-32.
  // A tab may only stand in the blanks that start a line, after at least one
  // space and before content (where a plain scalar's continuation line may
  // have it); every other place gives up (see blankTab).
  void checkBytes() const {
    if (!t_.empty() && static_cast<unsigned char>(t_[0]) >= 0x80) giveUp();
    for (size_t i = 0; i < t_.size(); ++i) {
      auto c = static_cast<unsigned char>(t_[i]);
      if (c == '\t') {
        size_t start = i;
        while (start > 0 && (t_[start - 1] == ' ' || t_[start - 1] == '\t')) --start;
        size_t end = i;
        while (end < t_.size() && (t_[end] == ' ' || t_[end] == '\t')) ++end;
        if ((start > 0 && t_[start - 1] != '\n') || t_[start] != ' ' || end == t_.size() ||
            t_[end] == '\n') {
          giveUp();
        }
      } else if ((c < 0x20 && c != '\n') || c == 0x7F) {
        giveUp();
      }
    }
  }

  bool atEnd() const { return content_ >= t_.size(); }

  size_t lineEnd(size_t p) const {
    const void* nl = std::memchr(t_.data() + p, '\n', t_.size() - p);
    return nl == nullptr ? t_.size()
                         : static_cast<size_t>(static_cast<const char*>(nl) - t_.data());
  }

  size_t skipSpaces(size_t p, size_t end) const {
    while (p < end && t_[p] == ' ') ++p;
    return p;
  }

  // Moves to the line after the one ending at `eol`.
  void nextLine(size_t eol) {
    lineStart_ = eol < t_.size() ? eol + 1 : t_.size();
    ++line_;
  }

  YAML::Mark markAt(size_t p) const {
    YAML::Mark m;
    m.pos = static_cast<int>(p);
    m.line = line_;
    m.column = static_cast<int>(p >= lineStart_ ? p - lineStart_ : 0);
    return m;
  }

  // Skips blank and comment lines from lineStart_. Returns the indentation of the
  // next content line (content_ at its first character), or -1 at the end of the
  // text or at a "---" line (content_ at the end or at the "---"). Gives up at a
  // "..." line.
  int nextContent() {
    atDocStart_ = false;
    while (lineStart_ < t_.size()) {
      size_t p = skipSpaces(lineStart_, t_.size());
      if (p == t_.size()) break;
      if (t_[p] == '\n') {
        nextLine(p);
        continue;
      }
      if (t_[p] == '#') {
        nextLine(lineEnd(p));
        continue;
      }
      if (t_[p] == '\t') giveUp();  // a tab among the spaces that indent a line
      content_ = p;
      if (p == lineStart_ && t_.size() - p >= 3 &&
          (t_.compare(p, 3, "---") == 0 || t_.compare(p, 3, "...") == 0) &&
          (p + 3 == t_.size() || t_[p + 3] == ' ' || t_[p + 3] == '\n')) {
        if (t_[p] == '.') giveUp();
        atDocStart_ = true;
        return -1;
      }
      return static_cast<int>(p - lineStart_);
    }
    lineStart_ = content_ = t_.size();
    return -1;
  }

  bool isSeqEntry(size_t p) const {
    return t_[p] == '-' && (p + 1 == t_.size() || t_[p + 1] == ' ' || t_[p + 1] == '\n');
  }

  // True when a plain scalar may start at p (yaml-cpp's Exp::PlainScalar, block
  // context), leaving out the starts that need yaml-cpp.
  bool plainStart(size_t p, size_t eol) const {
    char c = t_[p];
    if (std::strchr(",[]{}#&*!|>'\"%@`", c) != nullptr) return false;
    if (c == '-' || c == '?' || c == ':') return p + 1 < eol && t_[p + 1] != ' ';
    return true;
  }

  // The character a double-quoted escape \e stands for (yaml-cpp's Exp::Escape),
  // or '\0' for the escapes left to yaml-cpp.
  static char unescape(char e) {
    switch (e) {
      case '"':
      case '\\':
      case '/':
      case ' ':
      case '\'':
        return e;
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case 'a':
        return '\a';
      case 'b':
        return '\b';
      case 'v':
        return '\v';
      case 'f':
        return '\f';
      case 'e':
        return '\x1B';
      default:
        return '\0';
    }
  }

  // Reads the quoted scalar whose opening quote is at p into value_, folding
  // line breaks as yaml-cpp's ScanScalar does for FOLD_FLOW (each line's
  // trailing spaces and the next one's leading spaces dropped; a break reads as
  // a space, an empty line as a line break; then CLIP chomping). Returns the
  // position after the closing quote, which may be on a later line (lineStart_
  // and line_ then follow), or npos when `multiLine` is false and the scalar
  // does not close on its line.
  size_t quoted(size_t p, bool multiLine) {
    constexpr size_t npos = std::string::npos;
    value_.clear();
    char q = t_[p];
    size_t i = p + 1;
    size_t lastEscaped = npos;
    bool emptyLine = false;
    while (true) {
      size_t lastNonSpace = value_.size();
      bool escapedBreak = false;
      while (true) {
        if (i >= t_.size()) giveUp();  // the text ends inside the scalar
        char c = t_[i];
        if (c == '\n') break;
        if (i == lineStart_ && (c == '-' || c == '.') && t_.size() - i >= 3 &&
            (t_.compare(i, 3, "---") == 0 || t_.compare(i, 3, "...") == 0) &&
            (i + 3 == t_.size() || t_[i + 3] == ' ' || t_[i + 3] == '\n')) {
          giveUp();  // a document marker inside the scalar
        }
        if (c == q) {
          if (q == '\'' && i + 1 < t_.size() && t_[i + 1] == '\'') {
            value_ += '\'';
            i += 2;
            lastNonSpace = lastEscaped = value_.size();
            continue;
          }
          // CLIP, as yaml-cpp applies it to quoted scalars.
          size_t pos = value_.find_last_not_of('\n');
          if (lastEscaped != npos && (pos < lastEscaped || pos == npos)) pos = lastEscaped;
          if (pos == npos) {
            value_.clear();
          } else if (pos + 1 < value_.size()) {
            value_.erase(pos + 2);
          }
          return i + 1;
        }
        if (q == '"' && c == '\\') {
          char e = i + 1 < t_.size() ? t_[i + 1] : '\0';
          if (e == '\n') {  // an escaped line break: no space where it folds
            if (!multiLine) return npos;
            escapedBreak = true;
            lastNonSpace = lastEscaped = value_.size();
            ++i;
            break;
          }
          char r = unescape(e);
          if (r == '\0') giveUp();  // \x, \u, \U, \0, \N, \_, \L, \P or an error
          value_ += r;
          i += 2;
          lastNonSpace = lastEscaped = value_.size();
          continue;
        }
        value_ += c;
        if (c != ' ') lastNonSpace = value_.size();
        ++i;
      }
      if (!multiLine) return npos;
      value_.erase(lastNonSpace);
      nextLine(i);
      i = skipSpaces(lineStart_, t_.size());
      if (i < t_.size() && t_[i] == '\t') giveUp();
      bool nextEmpty = i < t_.size() && t_[i] == '\n';
      if (nextEmpty) {
        value_ += '\n';
      } else if (!emptyLine && !escapedBreak) {
        value_ += ' ';
      }
      emptyLine = nextEmpty;
    }
  }

  // Where the key of a map entry starting at p ends: the position of its ':'
  // (followed by a space or the end of the line), or npos when the line is not a
  // map entry this scanner reads. Leaves the key's text in key_ and whether it
  // was quoted in keyQuoted_.
  size_t keyEnd(size_t p, size_t eol) {
    char c = t_[p];
    if (c == '"' || c == '\'') {
      size_t after = quoted(p, false);
      if (after == std::string::npos) return std::string_view::npos;
      size_t colon = skipSpaces(after, eol);
      if (colon >= eol || t_[colon] != ':' || (colon + 1 < eol && t_[colon + 1] != ' ')) {
        return std::string_view::npos;
      }
      key_.swap(value_);
      keyQuoted_ = true;
      return colon;
    }
    if (!plainStart(p, eol)) return std::string_view::npos;
    for (size_t i = p; i < eol; ++i) {
      if (t_[i] == ' ' && i + 1 < eol && t_[i + 1] == '#') return std::string_view::npos;
      if (t_[i] == ':' && (i + 1 == eol || t_[i + 1] == ' ')) {
        size_t end = i;
        while (end > p && t_[end - 1] == ' ') --end;
        key_.assign(t_.data() + p, end - p);
        keyQuoted_ = false;
        return i;
      }
    }
    return std::string_view::npos;
  }

  // A block collection whose first line has its content at content_, indented
  // `ind` (> parent). Returns the indentation of the content line after it.
  int blockNode(int ind, int parent, int depth) {
    if (ind <= parent) giveUp();
    if (isSeqEntry(content_)) return sequence(ind, false, depth + 1);
    size_t eol = lineEnd(content_);
    if (keyEnd(content_, eol) != std::string_view::npos) return map(ind, depth + 1);
    // A scalar or a flow collection on a line of its own (below its key or "-").
    if (parent < 0) giveUp();  // a document that is a scalar
    return inlineValue(content_, eol, parent);
  }

  int map(int col, int depth) {
    if (depth > kMaxDepth) giveUp();
    h_.OnMapStart(markAt(content_), kPlainTag, YAML::NullAnchor, YAML::EmitterStyle::Block);
    int ind;
    while (true) {
      size_t p = content_;
      size_t eol = lineEnd(p);
      size_t colon = keyEnd(p, eol);
      if (colon == std::string_view::npos) giveUp();
      if (keyQuoted_) {
        h_.OnScalar(markAt(p), kNonPlainTag, YAML::NullAnchor, key_);
      } else if (isNullString(key_)) {
        h_.OnNull(markAt(p), YAML::NullAnchor);
      } else {
        h_.OnScalar(markAt(p), kPlainTag, YAML::NullAnchor, key_);
      }
      size_t v = skipSpaces(colon + 1, eol);
      if (v == eol || t_[v] == '#') {  // the value starts on a later line, or is empty
        nextLine(eol);
        ind = nextContent();
        if (ind > col) {
          ind = blockNode(ind, col, depth);
        } else if (ind == col && isSeqEntry(content_)) {
          ind = sequence(col, true, depth + 1);
        } else {
          h_.OnNull(markAt(content_), YAML::NullAnchor);
        }
      } else {
        ind = inlineValue(v, eol, col);
      }
      if (ind != col || isSeqEntry(content_)) break;
    }
    if (ind > col || (ind == col && isSeqEntry(content_))) giveUp();
    h_.OnMapEnd();
    return ind;
  }

  int sequence(int col, bool indentless, int depth) {
    if (depth > kMaxDepth) giveUp();
    h_.OnSequenceStart(markAt(content_), kPlainTag, YAML::NullAnchor, YAML::EmitterStyle::Block);
    int ind;
    while (true) {
      size_t p = content_ + 1;
      size_t eol = lineEnd(content_);
      size_t v = skipSpaces(p, eol);
      if (v == eol || t_[v] == '#') {
        nextLine(eol);
        ind = nextContent();
        if (ind > col) {
          ind = blockNode(ind, col, depth);
        } else {
          h_.OnNull(markAt(content_), YAML::NullAnchor);
        }
      } else if (isSeqEntry(v)) {
        giveUp();  // "- - a"
      } else if (keyEnd(v, eol) != std::string_view::npos) {
        content_ = v;
        ind = map(static_cast<int>(v - lineStart_), depth + 1);
      } else {
        ind = inlineValue(v, eol, col);
      }
      if (ind != col || !isSeqEntry(content_)) break;
    }
    if (ind > col || (ind == col && !indentless)) giveUp();
    h_.OnSequenceEnd();
    return ind;
  }

  // A scalar or an empty flow collection starting at v (not a space, not '#') on
  // a line ending at eol, inside a collection indented `parent`. Returns the
  // indentation of the next content line.
  int inlineValue(size_t v, size_t eol, int parent) {
    char c = t_[v];
    if (c == '|') return literal(v, eol, parent);
    if (c == '"' || c == '\'') {
      YAML::Mark mark = markAt(v);
      size_t after = quoted(v, true);
      eol = lineEnd(after);
      endOfLine(after, eol);
      h_.OnScalar(mark, kNonPlainTag, YAML::NullAnchor, value_);
      nextLine(eol);
      return nextContent();
    }
    if (c == '{' || c == '[') {
      size_t after = flowNode(v, parent, 0);
      eol = lineEnd(after);
      endOfLine(after, eol);
      nextLine(eol);
      return nextContent();
    }
    if (!plainStart(v, eol)) giveUp();
    return plain(v, eol, parent);
  }

  // Skips spaces, line breaks and comments between the tokens of a flow
  // collection inside a block collection indented `parent`. A line that goes
  // on at that indentation or less, or a document marker, is left to yaml-cpp.
  size_t flowSpace(size_t i, int parent) {
    while (true) {
      i = skipSpaces(i, t_.size());
      if (i >= t_.size() || t_[i] == '\t') giveUp();  // the text ends inside the collection
      char c = t_[i];
      if (c == '\n') {
        nextLine(i);
        size_t p = skipSpaces(lineStart_, t_.size());
        if (p < t_.size() && t_[p] != '\n' && static_cast<int>(p - lineStart_) <= parent) {
          giveUp();
        }
        i = lineStart_;
        continue;
      }
      if (c == '#' && (i == lineStart_ || t_[i - 1] == ' ')) {
        i = lineEnd(i);
        continue;
      }
      return i;
    }
  }

  // A flow node (a collection, a quoted scalar or a plain one) from p, inside a
  // block collection indented `parent`; returns the position after it.
  // Collections may span lines; scalars may not. Empty keys or values and `?`
  // are left to yaml-cpp.
  size_t flowNode(size_t p, int parent, int depth) {
    if (depth > kMaxDepth) giveUp();
    YAML::Mark mark = markAt(p);
    char c = t_[p];
    if (c == '[' || c == '{') {
      bool isMap = c == '{';
      char close = isMap ? '}' : ']';
      if (isMap) {
        h_.OnMapStart(mark, kPlainTag, YAML::NullAnchor, YAML::EmitterStyle::Flow);
      } else {
        h_.OnSequenceStart(mark, kPlainTag, YAML::NullAnchor, YAML::EmitterStyle::Flow);
      }
      size_t i = flowSpace(p + 1, parent);
      while (t_[i] != close) {
        i = flowSpace(flowNode(i, parent, depth + 1), parent);
        if (isMap) {
          if (t_[i] != ':') giveUp();  // a key without a value
          i = flowSpace(i + 1, parent);
          if (t_[i] == ',' || t_[i] == '}') giveUp();
          i = flowSpace(flowNode(i, parent, depth + 1), parent);
        }
        if (t_[i] == ',') {
          i = flowSpace(i + 1, parent);
        } else if (t_[i] != close) {
          giveUp();
        }
      }
      if (isMap) {
        h_.OnMapEnd();
      } else {
        h_.OnSequenceEnd();
      }
      return i + 1;
    }
    size_t eol = lineEnd(p);
    if (c == '"' || c == '\'') {
      size_t after = quoted(p, false);
      if (after == std::string::npos) giveUp();
      h_.OnScalar(mark, kNonPlainTag, YAML::NullAnchor, value_);
      return after;
    }
    // A plain scalar (yaml-cpp's PlainScalarInFlow and ScanScalarEndInFlow).
    if (std::strchr("?,[]{}#&*!|>'\"%@`", c) != nullptr) giveUp();
    if ((c == '-' || c == ':') && (p + 1 == eol || t_[p + 1] == ' ')) giveUp();
    size_t i = p;
    while (true) {
      if (i >= eol) giveUp();  // runs on to the next line
      char ch = t_[i];
      if (ch == ':' && (i + 1 == eol || t_[i + 1] == ' ' || t_[i + 1] == ',' || t_[i + 1] == ']' ||
                        t_[i + 1] == '}')) {
        break;
      }
      if (ch == ',' || ch == ']' || ch == '}') break;
      if (ch == '?' || ch == '[' || ch == '{') giveUp();
      if (ch == ' ' && i + 1 < eol && t_[i + 1] == '#') giveUp();
      ++i;
    }
    size_t end = i;
    while (end > p && t_[end - 1] == ' ') --end;
    std::string_view text(t_.data() + p, end - p);
    if (isNullString(text)) {
      h_.OnNull(mark, YAML::NullAnchor);
    } else {
      value_.assign(text);
      h_.OnScalar(mark, kPlainTag, YAML::NullAnchor, value_);
    }
    return i;
  }

  // After a quoted scalar or a flow collection: only spaces and a comment.
  void endOfLine(size_t p, size_t eol) const {
    size_t q = skipSpaces(p, eol);
    if (q != eol && (t_[q] != '#' || q == p)) giveUp();
  }

  // Scans one line of a plain scalar from p; returns where its text ends (spaces
  // trimmed) and sets `comment` when a comment ends it.
  size_t plainLine(size_t p, size_t eol, bool& comment) const {
    comment = false;
    size_t end = eol;
    for (size_t i = p; i < eol; ++i) {
      char c = t_[i];
      if (c == ':' && (i + 1 == eol || t_[i + 1] == ' ')) giveUp();  // a key, or an error
      if (c == ' ' && i + 1 < eol && t_[i + 1] == '#') {
        comment = true;
        end = i;
        break;
      }
    }
    while (end > p && t_[end - 1] == ' ') --end;
    return end;
  }

  // A plain scalar, folded over the lines indented more than `parent` that
  // follow (yaml-cpp's FOLD_FLOW: a line break reads as a space, n empty lines
  // as n line breaks).
  int plain(size_t v, size_t eol, int parent) {
    YAML::Mark mark = markAt(v);
    bool comment;
    size_t end = plainLine(v, eol, comment);
    nextLine(eol);
    std::string_view first(t_.data() + v, end - v);
    bool multi = false;
    size_t empties = 0;
    while (!comment && lineStart_ < t_.size()) {
      size_t p = skipSpaces(lineStart_, t_.size());
      if (p == t_.size()) break;
      if (t_[p] == '\n') {
        ++empties;
        nextLine(p);
        continue;
      }
      if (static_cast<int>(p - lineStart_) <= parent) {
        if (t_[p] == '\t') giveUp();  // yaml-cpp: a tab in the indentation
        break;
      }
      while (t_[p] == ' ' || t_[p] == '\t') ++p;  // the rest of the leading blanks
      if (t_[p] == '#') break;
      size_t le = lineEnd(p);
      size_t e = plainLine(p, le, comment);
      if (!multi) {
        value_.assign(first);
        multi = true;
      }
      if (empties == 0) {
        value_ += ' ';
      } else {
        value_.append(empties, '\n');
      }
      empties = 0;
      value_.append(t_.data() + p, e - p);
      nextLine(le);
    }
    if (!multi) {
      if (isNullString(first)) {
        h_.OnNull(mark, YAML::NullAnchor);
        return nextContent();
      }
      value_.assign(first);
    }
    h_.OnScalar(mark, kPlainTag, YAML::NullAnchor, value_);
    return nextContent();
  }

  // A literal block scalar whose indicator `|` is at v, with `-` chomping or
  // the default, and an indentation indicator or none.
  int literal(size_t v, size_t eol, int parent) {
    YAML::Mark mark = markAt(v);
    size_t p = v + 1;
    bool strip = false;
    size_t indent = 0;  // 0: detected from the first content line
    for (int k = 0; k < 2 && p < eol; ++k, ++p) {
      if (t_[p] == '-' && !strip) {
        strip = true;
      } else if (t_[p] >= '1' && t_[p] <= '9' && indent == 0) {
        // yaml-cpp: the indicator counts from the enclosing collection's column.
        indent = static_cast<size_t>(t_[p] - '0') + static_cast<size_t>(parent < 0 ? 0 : parent);
      } else {
        break;
      }
    }
    endOfLine(p, eol);
    nextLine(eol);
    value_.clear();
    // Empty lines before the first content line: each is a line break. A blank
    // line holding spaces there would set yaml-cpp's detected indentation.
    while (indent == 0) {
      if (lineStart_ >= t_.size()) giveUp();  // no content at all
      size_t s = skipSpaces(lineStart_, t_.size());
      if (s < t_.size() && t_[s] == '\n') {
        if (s != lineStart_) giveUp();
        value_ += '\n';
        nextLine(s);
        continue;
      }
      if (s == t_.size()) giveUp();
      indent = s - lineStart_;
      if (static_cast<int>(indent) <= parent) giveUp();  // an empty scalar
    }
    while (lineStart_ < t_.size()) {
      size_t s = skipSpaces(lineStart_, t_.size());
      size_t spaces = s - lineStart_;
      if (s == t_.size()) {             // spaces at the end of the text
        if (spaces > indent) giveUp();  // yaml-cpp keeps those beyond the indentation
        break;
      }
      if (t_[s] == '\n') {
        if (spaces > indent) giveUp();  // a line of spaces only: content
        value_ += '\n';
        nextLine(s);
        continue;
      }
      if (spaces < indent) break;
      size_t le = lineEnd(s);
      value_.append(t_.data() + lineStart_ + indent, le - lineStart_ - indent);
      if (le < t_.size()) value_ += '\n';
      nextLine(le);
    }
    // yaml-cpp's chomping (CLIP keeps one line break, STRIP none).
    size_t last = value_.find_last_not_of('\n');
    if (last == std::string::npos) {
      value_.clear();
    } else if (strip) {
      value_.erase(last + 1);
    } else if (last + 1 < value_.size()) {
      value_.erase(last + 2);
    }
    h_.OnScalar(mark, kNonPlainTag, YAML::NullAnchor, value_);
    return nextContent();
  }

  std::string_view t_;
  YAML::EventHandler& h_;
  size_t lineStart_ = 0;
  int line_ = 0;
  size_t content_ = 0;
  bool atDocStart_ = false;
  std::string value_;
  std::string key_;
  bool keyQuoted_ = false;
};

}  // namespace

bool scanYamlFast(std::string_view text, YAML::EventHandler& handler) {
  FastScanner scanner(text, handler);
  try {
    scanner.run();
  } catch (const GiveUp&) {
    return false;
  }
  return true;
}

}  // namespace windlass::overlays
