"""Find canonical skill names in free text (resumes, job postings, module descriptions).

How it works: the text is split into tokens once (one regex), and token n-grams are looked up in a
dictionary keyed by their first token, longest phrase first — no per-skill regex, so the cost is one
pass over the text whatever the vocabulary size (benchmarks/taxonomy_extract.py).

Which phrases count: every canonical name, except names that are ordinary English words or would fire
on unrelated text ("Speaking", "Design", "Go", "Chef", "Google"); plus aliases: the acronym of
"Structured query language SQL", the product without its vendor ("Excel" for "Microsoft Excel"), and
a short hand-written list of the ways people write skills ("problem solving", "customer service").
Some brand names are also common words ("Slack", "Zoom", "React", "R", "C"): they match only when
written with the brand's capitalisation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache, lru_cache

# Tokens: letters/digits with the symbols that belong to tech names (C++, C#, ATT&CK, Node.js, .NET).
# Hyphens and slashes split tokens ("Python/SQL" is two skills); names are tokenised the same way,
# so "Transact-SQL" is the phrase ("transact", "sql").
_TOKEN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9+#&]*(?:\.[A-Za-z0-9][A-Za-z0-9+#&]*)*|\.[A-Za-z][A-Za-z0-9]*")

# Canonical names never matched bare (too generic, or another everyday meaning); aliases below still apply.
_NO_BARE = {
    "Coordination", "Installation", "Instructing", "Monitoring", "Repairing", "Science", "Speaking",
    "Writing", "Design", "Mechanical", "Administrative", "English Language", "Geography",
    "Operation and Control", "Go", "Chef", "Google", "Epic Systems", "Shell script",
}  # fmt: skip

# Names (or derived aliases) that match only in this exact capitalisation.
_CASE_SENSITIVE = {
    "R", "C", "Zoom", "Slack", "Swift", "React", "Ruby", "Bootstrap", "Puppet", "Postman", "Unity", "Rust",
    "Bash", "Spark", "Hive", "Excel", "Windows", "Outlook", "Safari", "Inventor", "Maya", "Illustrator",
    "Edge", "Workday", "Jersey", "Scala", "Lua", "Asana", "Selenium", "Cassandra", "Tableau", "Atoll",
}  # fmt: skip

# Vendor-stripped remainders that are everyday words: never an alias on their own.
_GENERIC_REMAINDERS = {
    "word", "access", "project", "teams", "dynamics", "office", "database", "docs", "sheets", "meet", "ads",
    "analytics", "cloud", "middleware", "audition", "xd", "edge", "erp", "hris", "software", "systems",
    "directx", "professional", "designer", "studio", "enterprise", "server", "framework", "resolve",
    # Seen matching the wrong thing in the real postings/resumes: "Google Cloud Platform" → Qualys,
    # "New Jersey" → Eclipse Jersey, "Spring Boot" → "Boot", person names (Maya).
    "workspace", "marketing automation", "central command", "orm", "ide", "ci", "boot", "jersey", "crs",
    "cloud platform", "maya",
}  # fmt: skip

_VENDORS = [
    "Microsoft", "Adobe", "Apache", "Apple", "Atlassian", "Autodesk", "Amazon", "Google", "IBM", "Oracle",
    "Intuit", "ESRI", "Dassault Systemes", "The MathWorks", "MathWorks", "Red Hat", "StataCorp", "Bentley",
    "Cisco", "Trimble", "Corel", "PTC", "Unity Technologies", "National Instruments", "Thomson Reuters",
    "Tenable", "Splunk", "SAP", "Henry Schein", "Kronos", "Jenkins", "McNeel", "Unreal Technology",
    "Marketo", "Hibernate", "Teradata", "Eclipse", "Guidance Software", "Portswigger", "Qualys", "Xactware",
    "Blackbaud", "Sabre", "Amadeus", "ADP", "Forsk", "Cubic", "PTV", "RockWare", "Mozilla", "Spring",
]  # fmt: skip

# How people actually write these skills (lower-case unless in _CASE_SENSITIVE).
_ALIASES: dict[str, list[str]] = {
    "Complex Problem Solving": ["problem solving", "problem-solving", "troubleshooting complex problems"],
    "Critical Thinking": ["analytical thinking", "analytical skills"],
    "Active Listening": ["listening skills"],
    "Coordination": ["team coordination", "project coordination", "coordination skills"],
    "Installation": ["equipment installation", "software installation", "system installation"],
    "Instructing": ["instructing", "teaching", "training staff"],
    "Monitoring": ["performance monitoring", "monitoring performance"],
    "Repairing": ["repairing", "equipment repair", "repair work"],
    "Science": ["scientific research", "scientific methods", "scientific method"],
    "Speaking": ["public speaking", "presentation skills", "oral communication"],
    "Writing": ["technical writing", "report writing", "written communication", "copywriting",
                "writing skills"],
    "Mathematics": ["math", "maths", "statistics", "algebra", "calculus"],
    "Mathematics Knowledge": ["applied mathematics", "mathematical knowledge"],
    "Negotiation": ["negotiating", "negotiations"],
    "Time Management": ["prioritization", "prioritisation"],
    "Judgment and Decision Making": ["decision making", "decision-making"],
    "Management of Personnel Resources": ["people management", "team management", "staff management"],
    "Management of Financial Resources": ["budgeting", "budget management", "financial management"],
    "Service Orientation": ["customer focus", "customer orientation"],
    "Quality Control Analysis": ["quality control", "quality assurance"],
    "Systems Analysis": ["systems analysis", "system analysis", "requirements analysis"],
    "Programming": ["software development", "coding"],
    "Operation and Control": ["equipment operation", "machine operation"],
    "Administration and Management": ["business management", "business administration", "project management",
                                      "operations management", "strategic planning"],
    "Administrative": ["administrative support", "office administration", "clerical", "data entry"],
    "Building and Construction": ["construction"],
    "Communications and Media": ["public relations", "journalism", "media relations"],
    "Computers and Electronics": ["electronics", "computer hardware", "computer science"],
    "Customer and Personal Service": ["customer service", "client service", "customer support"],
    "Design": ["technical drawing", "technical drawings", "blueprints", "drafting", "graphic design"],
    "Economics and Accounting": ["accounting", "bookkeeping", "economics", "financial reporting"],
    "Education and Training": ["curriculum development", "instructional design", "training and development"],
    "Engineering and Technology": ["engineering"],
    "English Language": ["english grammar", "proofreading"],
    "Foreign Language": ["bilingual", "spanish", "french", "german", "mandarin", "arabic", "portuguese"],
    "Geography": ["geography", "cartography"],
    "Law and Government": ["legal research", "regulatory compliance", "law"],
    "Mechanical": ["machinery", "mechanical systems", "machine maintenance"],
    "Medicine and Dentistry": ["medicine", "clinical diagnosis", "dentistry"],
    "Personnel and Human Resources": ["human resources", "recruiting", "recruitment", "talent acquisition"],
    "Production and Processing": ["manufacturing processes", "production planning"],
    "Public Safety and Security": ["public safety", "security procedures", "safety procedures"],
    "Sales and Marketing": ["sales", "marketing", "digital marketing", "business development"],
    "Therapy and Counseling": ["counseling", "counselling", "therapy"],
    "Go": ["golang"],
    "Google": ["google search"],
    "Chef": ["chef infra", "opscode chef"],
    "Shell script": ["shell scripting", "shell scripts"],
    "JavaScript": ["js"],
    "Node.js": ["nodejs", "node"],
    "React": ["react.js", "reactjs"],
    "Vue.js": ["vue", "vuejs"],
    "Google Angular": ["angularjs", "angular.js"],
    "Scikit-learn": ["sklearn", "scikit learn"],
    "PostgreSQL": ["postgres"],
    "Kubernetes": ["k8s"],
    "IBM SPSS Statistics": ["spss"],
    "Hypertext markup language HTML": ["html5"],
    "Cascading style sheets CSS": ["css3"],
    "Microsoft .NET Framework": [".net", "dotnet"],
    "Microsoft Excel": ["ms excel", "excel spreadsheets"],
    "Microsoft Word": ["ms word"],
    "Microsoft Access": ["ms access"],
    "Microsoft Project": ["ms project"],
    "Microsoft Teams": ["ms teams"],
    "Microsoft Office software": ["microsoft office", "ms office", "office 365", "microsoft 365"],
    "Microsoft Azure software": ["azure"],
    "Amazon Web Services AWS software": ["amazon web services"],
    "Amazon Simple Storage Service S3": ["amazon s3", "aws s3"],
    "Amazon Elastic Compute Cloud EC2": ["ec2", "aws ec2"],
    "Adobe Photoshop Lightroom": ["lightroom"],
    "Adobe Creative Cloud software": ["adobe creative cloud", "adobe creative suite"],
    "Transact-SQL": ["t-sql", "tsql"],
    "Oracle PL/SQL": ["pl/sql", "plsql"],
    "Microsoft Power BI": ["powerbi"],
    "Rust programming language": ["Rust"],
    "Unity Technologies Unity": ["Unity3D", "Unity 3D"],
    "Epic Systems": ["Epic EHR", "Epic Systems"],
    "Jenkins CI": ["jenkins"],
    "ANSYS simulation software": ["ANSYS"],
    "Autodesk Maya": ["Maya 3D"],
    "Spring Boot": ["springboot"],
    "Red Hat Enterprise Linux": ["rhel"],
    "ESRI ArcGIS software": ["arcgis"],
    "Autodesk AutoCAD Civil 3D": ["civil 3d"],
    "Apache Subversion SVN": ["subversion"],
    "Salesforce software": ["salesforce", "salesforce crm"],
    "SAP software": ["sap"],
    "Learning management system LMS": ["learning management systems"],
}  # fmt: skip

# Phrases that contain a one-letter skill name but mean something else: matched first (longest wins)
# and then ignored. Seen in the real postings: "Objective-C", "C-level partners".
_STOP_PHRASES = [
    "Objective-C", "Objective C", "C-level", "C-suite", "Vitamin C", "Grade C", "Class C", "Type C", "USB-C",
    "Plan B", "C level", "R and D", "Q&A",
]  # fmt: skip

_ACRONYM_RE = re.compile(
    r"^(?P<desc>.+?)\s+(?P<acr>\(?[A-Z][A-Z0-9]{1,6}\)?)(?:\s+(?:software|systems|simulation software))?$"
)
_KNOWN_ACRONYMS = {"AWS", "SQL", "XML", "HTML", "CSS", "JSON", "VBA", "SSIS", "SSRS"}


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(_TOKEN_RE.findall(text))


def _surface_forms(name: str) -> list[str]:
    """All written forms of one canonical name, canonical first when it may match bare."""
    forms: list[str] = [] if name in _NO_BARE else [name]
    forms += _ALIASES.get(name, [])
    m = _ACRONYM_RE.match(name)
    desc_words = m.group("desc").split() if m else []
    if m and all(w.islower() for w in desc_words[1:]) and len(desc_words) > 1:
        # "Structured query language SQL": both the acronym and the spelled-out phrase.
        forms += [m.group("acr").strip("()"), m.group("desc")]
    elif m and m.group("acr").strip("()") in _KNOWN_ACRONYMS:
        forms.append(m.group("acr").strip("()"))
    for vendor in _VENDORS:
        if name.startswith(vendor + " "):
            rest = name[len(vendor) + 1 :]
            rest = re.sub(r"\s+(software|systems)$", "", rest)
            if rest.lower() not in _GENERIC_REMAINDERS and len(rest) > 1:
                forms.append(rest)
            break
    if name.endswith(" software") and name not in _NO_BARE:
        rest = name[: -len(" software")]
        # "Salesforce software" → "Salesforce", but not "Accounting software" → "Accounting".
        if any(c.isupper() for c in rest[1:]) or any(c.isdigit() for c in rest):
            forms.append(rest)
    seen: dict[str, None] = {}
    for f in forms:
        seen.setdefault(f, None)
    return list(seen)


@lru_cache(maxsize=1)
def _index() -> dict[str, list[tuple[tuple[str, ...], str, tuple[str, ...] | None]]]:
    """first token → [(lower-case phrase, canonical name or "" = ignore, exact tokens if case-sensitive)]."""
    from taxonomy import skill_vocabulary

    index: dict[str, list[tuple[tuple[str, ...], str, tuple[str, ...] | None]]] = {}
    taken: set[tuple[str, ...]] = set()
    for phrase in _STOP_PHRASES:
        low = tuple(t.lower() for t in _tokens(phrase))
        taken.add(low)
        index.setdefault(low[0], []).append((low, "", None))
    # Skills and knowledge before technologies, frequent names before rare: the first claimant of an
    # alias keeps it (e.g. the acronym "CMS" of two content-management entries).
    for name in skill_vocabulary()["skill_name"]:
        for form in _surface_forms(name):
            toks = _tokens(form)
            if not toks:
                continue
            low = tuple(t.lower() for t in toks)
            if low in taken:
                continue
            taken.add(low)
            cs = toks if (form in _CASE_SENSITIVE or (len(form) <= 2 and form.isupper())) else None
            index.setdefault(low[0], []).append((low, name, cs))
    for cands in index.values():
        cands.sort(key=lambda c: -len(c[0]))
    return index


@cache
def skill_surface_form(skill_name: str) -> str:
    """A way of writing `skill_name` in prose that `extract_skills` recognises (for generated text)."""
    forms = _surface_forms(skill_name)
    if not forms:
        raise KeyError(f"not a canonical skill name: {skill_name!r}")
    return forms[0]


def _initials(orig: list[str], i: int) -> bool:
    """A one-letter name ("R", "C") next to another capital is initials ("R K Electrical"), not a skill."""
    prev = orig[i - 1] if i > 0 else ""
    nxt = orig[i + 1] if i + 1 < len(orig) else ""
    return (len(prev) == 1 and prev.isupper()) or (len(nxt) == 1 and nxt.isupper())


def extract_skills(text: str) -> list[str]:
    """Canonical skill names mentioned in `text`, sorted, each once. Empty for empty/None text."""
    if not text:
        return []
    index = _index()
    low = _TOKEN_RE.findall(text.lower())
    orig: list[str] | None = None
    found: set[str] = set()
    n = len(low)
    nxt = 0  # first token not yet consumed by a longer phrase
    # Visit only tokens that can start a phrase: one comprehension is much faster than a Python while loop.
    for i in [j for j, tok in enumerate(low) if tok in index]:
        if i < nxt:
            continue
        for phrase, name, cs in index[low[i]]:
            k = len(phrase)
            if k > 1 and tuple(low[i : i + k]) != phrase:
                continue
            if cs is not None:
                if orig is None:
                    orig = _TOKEN_RE.findall(text)
                # Lower-casing can change token counts for rare Unicode; then case rules cannot apply.
                if len(orig) != n or tuple(orig[i : i + k]) != cs:
                    continue
                if len(cs[0]) == 1 and _initials(orig, i):
                    continue
            if name:
                found.add(name)
            nxt = i + k
            break
    return sorted(found)


def extract_skills_many(texts: Iterable[str]) -> list[list[str]]:
    """`extract_skills` for each text, in order."""
    return [extract_skills(t) for t in texts]
