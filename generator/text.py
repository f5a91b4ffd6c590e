"""Human-readable records (resumes, postings, HRIS rows, modules) rendered from the latent world.

Resumes carry realistic personal data on purpose — name, email, phone, a LinkedIn-style URL and a
street address in the free text — so ingestion's pseudonymisation and PII redaction are exercised.
All of it is fictitious: reserved example domains, 555-01xx phone numbers, invented streets.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from generator.world import AGE_BANDS, CATEGORIES, CITIES, GENDERS, MODULE_LEVELS, World

FIRST_F = [
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Susan", "Jessica", "Sarah", "Karen", "Lisa",
    "Nancy", "Sandra", "Ashley", "Emily", "Michelle", "Amanda", "Melissa", "Stephanie", "Laura", "Rebecca",
    "Sharon", "Cynthia", "Amy", "Angela", "Anna", "Brenda", "Emma", "Olivia", "Sophia", "Isabella", "Mia",
    "Charlotte", "Amelia", "Harper", "Aaliyah", "Priya", "Mei", "Fatima", "Sofia", "Camila", "Valentina",
    "Lucia", "Ngozi", "Aisha", "Yuki", "Hana", "Chloe", "Grace", "Zoe", "Nora", "Leila", "Ines", "Maya",
    "Rosa", "Elena", "Ana", "Kira", "Noor", "Dana", "Lena"
]  # fmt: skip
FIRST_M = [
    "James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas", "Charles",
    "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Andrew", "Paul", "Joshua",
    "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Jason", "Edward", "Jeffrey", "Ryan",
    "Jacob", "Gary", "Nicholas", "Eric", "Jonathan", "Stephen", "Larry", "Justin", "Scott", "Brandon",
    "Benjamin", "Samuel", "Raj", "Wei", "Hiroshi", "Mohammed", "Omar", "Carlos", "Diego", "Luis", "Mateo",
    "Kwame", "Chinedu", "Ivan", "Dmitri", "Arjun", "Tariq", "Malik", "Andre", "Noah", "Liam", "Ethan"
]  # fmt: skip
LAST = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson",
    "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis",
    "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Patel", "Shah", "Kim", "Park", "Chen", "Wang", "Singh", "Kumar", "Okafor", "Mensah", "Cohen", "Murphy",
    "O'Brien", "Kowalski", "Novak", "Rossi", "Silva", "Costa", "Yamamoto", "Tanaka", "Ali", "Hassan",
    "Khan", "Ivanova", "Schmidt", "Fischer"
]  # fmt: skip
STREETS = [
    "Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill", "Park", "Main", "Sunset",
    "Highland", "Ridge", "River", "Meadow", "Forest", "Spring", "Jefferson", "Lincoln", "Madison",
    "Franklin", "Chestnut", "Walnut", "Willow", "Birch"
]  # fmt: skip
STREET_KIND = ["St", "Ave", "Blvd", "Rd", "Ln", "Dr", "Ct", "Way"]
COMPANIES = [
    "Northwind Analytics", "Contoso Health", "Fabrikam Manufacturing", "Tailspin Logistics",
    "Adventure Works", "Wingtip Retail", "Lakeshore Medical Group", "Blue Yonder Airlines", "Coho Energy",
    "Litware Systems", "Proseware Financial", "Woodgrove Bank", "Alpine Ski House", "Trey Research",
    "Humongous Insurance", "Fourth Coffee", "Graphic Design Institute", "Southridge Video",
    "Margie's Travel", "Wide World Importers", "Relecloud", "VanArsdel Foods", "City Power & Light",
    "Consolidated Messenger", "Lucerne Publishing", "Bellows College", "Munson's Pickles",
    "Nod Publishers", "A. Datum Corporation", "School of Fine Art",
]  # fmt: skip
ACCENTED_COMPANIES = [
    "Café Société Group",
    "Müller & Søn Logistik",
    "Crème Brûlée Bakeries",
    "Peñasco Energía",
]
PROVIDERS = ["Coursera", "edX", "LinkedIn Learning", "Udemy", "Kairoo Academy", "Pluralsight", "Khan Academy"]
RACES = [
    "White", "Hispanic or Latino", "Black or African American", "Asian", "Two or more races",
    "American Indian or Alaska Native", "Native Hawaiian or Other Pacific Islander",
]  # fmt: skip
RACE_P = [0.58, 0.19, 0.12, 0.06, 0.03, 0.01, 0.01]
EDUCATION = {
    1: "High school",
    2: "High school",
    3: "Associate degree",
    4: "Bachelor's degree",
    5: "Master's degree",
}
SENIORITY = {1: "Junior", 2: "", 3: "", 4: "Senior", 5: "Lead"}
YEARS_BASE = {1: 1.0, 2: 3.0, 3: 6.0, 4: 10.0, 5: 15.0}
AGE_RANGE = {0: (18, 24), 1: (25, 34), 2: (35, 44), 3: (45, 54), 4: (55, 67)}


class Names:
    """Per-world lookups shared by all renderers (titles, descriptions, skill forms)."""

    def __init__(self, world: World):
        import taxonomy

        occ = taxonomy.occupations().set_index("soc_code")
        titles = taxonomy.reported_titles().groupby("soc_code")["reported_title"].apply(list)
        self.occ_title = [str(occ.loc[s, "title"]) for s in world.occ_soc]
        self.occ_desc = [str(occ.loc[s, "description"]) for s in world.occ_soc]
        self.occ_titles = [titles.get(s, [t]) for s, t in zip(world.occ_soc, self.occ_title, strict=True)]
        self.skill = [str(s) for s in world.skill_names]
        self.surface = [taxonomy.skill_surface_form(s) for s in self.skill]


def _person(rng: np.random.Generator, gender: int) -> tuple[str, str]:
    pool = FIRST_F if gender == 0 else FIRST_M if gender == 1 else FIRST_F + FIRST_M
    return str(pool[rng.integers(len(pool))]), str(LAST[rng.integers(len(LAST))])


def _clocks(rng: np.random.Generator, day: date, n: int, backdate: bool) -> list[str]:
    """Timestamps on `day`; with backdate, 1–60 days earlier (the population that exists before day one)."""
    secs = rng.integers(0, 86_400, size=n).tolist()
    back = rng.integers(1, 61, size=n).tolist() if backdate else [0] * n
    days = [(day - timedelta(days=b)).isoformat() for b in back]
    return [f"{d}T{x // 3600:02d}:{x // 60 % 60:02d}:{x % 60:02d}Z" for d, x in zip(days, secs, strict=True)]


def _names(rng: np.random.Generator, genders: np.ndarray) -> tuple[list[str], list[str]]:
    """First and last names: the first-name pool follows gender (both pools for non-binary people)."""
    r = rng.random(len(genders))
    f = np.array(FIRST_F)[(r * len(FIRST_F)).astype(int)]
    m = np.array(FIRST_M)[(r * len(FIRST_M)).astype(int)]
    pick_f = (genders == 0) | ((genders == 2) & (rng.random(len(genders)) < 0.5))
    first = np.where(pick_f, f, m).tolist()
    last = np.array(LAST)[rng.integers(0, len(LAST), len(genders))].tolist()
    return first, last


def resume_records(
    world: World, names: Names, users: np.ndarray, day: date, seed: int, backdate: bool = False
) -> list[dict]:
    """One resume per user in `users` (their arrival day is `day`).

    Random draws are vectorised per call (seeded by the first user), the loop only formats strings:
    100k resumes take a few seconds, not half a minute.
    """
    n = len(users)
    if n == 0:
        return []
    rng = np.random.default_rng([seed, 200, int(users[0]), n])
    first, last = _names(rng, world.u_gender[users])
    occ = world.u_occ[users]
    level = world.u_level[users].astype(int)
    n_titles = np.array([len(names.occ_titles[o]) for o in occ])
    title_pick = (rng.random(n) * n_titles).astype(int).tolist()
    hi = np.array([AGE_RANGE[a][1] for a in world.u_age[users]])
    years = np.clip(np.array([YEARS_BASE[x] for x in level]) + rng.normal(0, 2, n), 0, hi - 18).tolist()
    area = rng.integers(200, 990, n).tolist()
    line = rng.integers(0, 100, n).tolist()
    house = rng.integers(10, 9900, n).tolist()
    street = np.array(STREETS)[rng.integers(0, len(STREETS), n)].tolist()
    kind = np.array(STREET_KIND)[rng.integers(0, len(STREET_KIND), n)].tolist()
    zip2 = rng.integers(0, 100, n).tolist()
    company = np.array(COMPANIES)[rng.integers(0, len(COMPANIES), n)].tolist()
    stamps = _clocks(rng, day, n, backdate)
    out = []
    for k, u in enumerate(users.tolist()):
        o, lv = int(occ[k]), int(level[k])
        city, state, region, zip3, _ = CITIES[int(world.u_city[u])]
        role = names.occ_titles[o][title_pick[k]]
        headline = f"{SENIORITY[lv]} {role}".strip()
        row = world.u_skill[u]
        sk = row[world.u_listed[u] & (row >= 0)].tolist()
        forms = [names.surface[x] for x in sk]
        fn, ln, yrs = first[k], last[k], years[k]
        email = f"{fn}.{ln}{u % 1000}@example.{('com', 'org', 'net')[u % 3]}".lower().replace("'", "")
        phone = f"({area[k]}) 555-01{line[k]:02d}"
        url = f"https://www.linkedin.com/in/{fn.lower()}-{ln.lower().replace(chr(39), '')}-{u:x}"
        address = f"{house[k]} {street[k]} {kind[k]}, {city}, {state} {zip3}{zip2[k]:02d}"
        half = max(1, len(forms) // 2)
        bullets = "\n".join(
            f"- Used {a} and {b} to deliver results for the team."
            for a, b in zip(forms[:half:2], forms[1:half:2] or forms[:1], strict=False)
        )
        desc = names.occ_desc[o].split(". ")[0].rstrip(".")
        text = (
            f"{fn} {ln}\n{headline}\n{address} | {phone} | {email}\n{url}\n\n"
            f"SUMMARY\n{headline} with {yrs:.0f} years of experience. {desc}.\n\n"
            f"SKILLS\n{', '.join(forms)}\n\n"
            f"EXPERIENCE\n{role} at {company[k]}, {city}, {state} "
            f"({day.year - max(1, round(yrs))}–present)\n{bullets}\n\n"
            f"EDUCATION\n{EDUCATION[lv]}\n\nContact me at {email} or {phone}."
        )
        out.append(
            {
                "resume_id": f"r{u:07d}",
                "user_id": f"u{u:07d}",
                "full_name": f"{fn} {ln}",
                "email": email,
                "phone": phone,
                "headline": headline,
                "category": CATEGORIES[int(world.occ_cat[o])],
                "resume_text": text,
                "skills": ";".join(names.skill[x] for x in sk),
                "years_experience": round(yrs, 1),
                "education_level": EDUCATION[lv],
                "location": f"{city}, {state}",
                "region": region,
                "gender": GENDERS[int(world.u_gender[u])],
                "age_band": AGE_BANDS[int(world.u_age[u])],
                "submitted_at": stamps[k],
            }
        )
    return out


def _salary(rng: np.random.Generator, level: int) -> str:
    r = rng.random()
    if r < 0.12:
        return ""
    if r < 0.17:
        return "Competitive salary"
    if level <= 2 and r < 0.6:
        lo = round(14 + 5 * level + rng.normal(0, 2))
        return f"${lo} - ${lo + int(rng.integers(3, 9))} an hour"
    lo = round((32_000 + 19_000 * level + rng.normal(0, 6_000)) / 1000) * 1000
    return f"${lo:,} - ${lo + int(rng.integers(10, 40)) * 1000:,} a year"


def job_records(
    world: World, names: Names, jobs: np.ndarray, day: date, seed: int, backdate: bool = False
) -> list[dict]:
    """One posting per job in `jobs` (posted on `day`); draws vectorised per call like resumes."""
    n = len(jobs)
    if n == 0:
        return []
    rng = np.random.default_rng([seed, 300, int(jobs[0]), n])
    occ = world.j_occ[jobs]
    n_titles = np.array([len(names.occ_titles[o]) for o in occ])
    title_pick = (rng.random(n) * n_titles).astype(int).tolist()
    company = np.array(COMPANIES)[rng.integers(0, len(COMPANIES), n)].tolist()
    year_shift = rng.integers(-1, 2, n).tolist()
    stamps = _clocks(rng, day, n, backdate)
    out = []
    for k, j in enumerate(jobs.tolist()):
        o = int(occ[k])
        level = int(world.j_level[j])
        title = f"{SENIORITY[level]} {names.occ_titles[o][title_pick[k]]}".strip()
        c = int(world.j_city[j])
        if c < 0:
            location, region = "Remote (US)", "Remote"
        else:
            location, region = f"{CITIES[c][0]}, {CITIES[c][1]}", CITIES[c][2]
        sk = [x for x in world.j_skill[j].tolist() if x >= 0]
        core = [names.surface[x] for x in sk if world.skill_kind[x] != "technology"]
        tech = [names.surface[x] for x in sk if world.skill_kind[x] == "technology"]
        years = max(0, int(YEARS_BASE[level]) + year_shift[k])
        out.append(
            {
                "job_id": f"j{j:06d}",
                "title": title,
                "company": company[k],
                "category": CATEGORIES[int(world.occ_cat[o])],
                "location": location,
                "region": region,
                "description": f"{company[k]} is hiring a {title} ({location}). {names.occ_desc[o]}",
                "responsibilities": "\n".join(f"Apply {x.lower()} in day-to-day work." for x in core[:4]),
                "min_qualifications": f"{EDUCATION[level]} or equivalent experience.\n"
                f"{years}+ years of relevant experience.\nStrong {', '.join(core[:3]).lower()}.",
                "preferred_qualifications": f"Experience with {', '.join(tech)}." if tech else "",
                "salary_text": _salary(rng, level),
                "required_skills": ";".join(names.skill[x] for x in sk),
                "job_level": level,
                "onet_soc_code": str(world.occ_soc[o]),
                "posted_at": stamps[k],
            }
        )
    return out


def module_records(world: World, names: Names, seed: int) -> list[dict]:
    """The learning catalogue."""
    out = []
    prefix = {0: "Introduction to", 1: "Applied", 2: "Advanced"}
    for m in range(len(world.m_level)):
        rng = np.random.default_rng([seed, 400, m])
        sk = [int(s) for s in world.m_skill[m] if s >= 0]
        lv = int(world.m_level[m])
        topic = " and ".join(names.surface[s] for s in sk[:2])
        out.append(
            {
                "module_id": f"m{m:05d}",
                "title": f"{prefix[lv]} {topic}",
                "provider": PROVIDERS[rng.integers(len(PROVIDERS))],
                "skills": ";".join(names.skill[s] for s in sk),
                "level": MODULE_LEVELS[lv],
                "duration_hours": float(round(rng.lognormal(1.2 + 0.5 * lv, 0.5), 1)),
            }
        )
    return out


class Hris:
    """Enterprise tenants' employee records: a full snapshot on day one, then daily changes.

    Employees are users (user_id links them); the most senior employee of each department manages the rest.
    """

    def __init__(self, world: World, names: Names, n_tenants: int, share: float, seed: int, start: date):
        self.world, self.names, self.seed, self.start = world, names, seed, start
        self.n_tenants, self.share = n_tenants, share
        self.rows: dict[int, dict] = {}  # user → current record
        self.counter = [0] * n_tenants
        self.heads: dict[tuple[str, str], str] = {}

    def _hire(self, rng, u: int, day: date, hire_date: date) -> dict:
        w = self.world
        t = int(rng.integers(self.n_tenants))
        self.counter[t] += 1
        tenant = f"t{t + 1:02d}"
        first, last = _person(rng, int(w.u_gender[u]))
        _, state, region, zip3, _ = CITIES[int(w.u_city[u])]
        lo, hi = AGE_RANGE[int(w.u_age[u])]
        dob = self.start - timedelta(days=int(rng.integers(lo * 365 + 1, (hi + 1) * 365 - 1)))
        occ = int(w.u_occ[u])
        level = int(w.u_level[u])
        dept = CATEGORIES[int(w.occ_cat[occ])]
        emp = f"{tenant}-e{self.counter[t]:06d}"
        key = (tenant, dept)
        manager = self.heads.get(key, "")
        if not manager:
            self.heads[key] = emp
        return {
            "employee_id": emp,
            "tenant_id": tenant,
            "user_id": f"u{u:07d}",
            "full_name": f"{first} {last}",
            "date_of_birth": dob.isoformat(),
            "gender": GENDERS[int(w.u_gender[u])],
            "race": RACES[int(rng.choice(len(RACES), p=RACE_P))],
            "zip": f"{zip3}{rng.integers(0, 100):02d}",
            "state": state,
            "region": region,
            "department": dept,
            "job_role": self.names.occ_title[occ],
            "job_level": level,
            "onet_soc_code": str(w.occ_soc[occ]),
            "manager_id": manager,
            "hire_date": hire_date.isoformat(),
            "termination_date": "",
            "employment_status": "on_leave" if rng.random() < 0.03 else "active",
            "monthly_income": int(round(2_400 + 1_700 * level + rng.normal(0, 600), -1)),
            "snapshot_date": day.isoformat(),
        }

    def _appoint_heads(self, rows: list[dict]) -> None:
        """The most senior employee of each tenant's department heads it; everyone else reports to them."""
        best: dict[tuple[str, str], dict] = {}
        for r in rows:
            key = (r["tenant_id"], r["department"])
            if key not in best or r["job_level"] > best[key]["job_level"]:
                best[key] = r
        self.heads = {k: r["employee_id"] for k, r in best.items()}
        for r in rows:
            head = self.heads[(r["tenant_id"], r["department"])]
            r["manager_id"] = "" if head == r["employee_id"] else head

    def day(self, day_index: int, day: date, new_users: np.ndarray) -> list[dict]:
        """Rows delivered on `day`: everyone on day 0, afterwards hires and terminations of the day."""
        rng = np.random.default_rng([self.seed, 600, day_index])
        changed: list[dict] = []
        for u in new_users:
            u = int(u)
            if rng.random() >= self.share:
                continue
            hired = day - timedelta(days=int(rng.integers(30, 15 * 365))) if day_index == 0 else day
            rec = self._hire(rng, u, day, hired)
            self.rows[u] = rec
            changed.append(rec)
        if day_index == 0:
            self._appoint_heads(changed)
        if day_index > 0:
            active = [u for u, r in self.rows.items() if r["employment_status"] != "terminated"]
            n_leave = rng.binomial(len(active), 0.002) if active else 0
            heads = set(self.heads.values())
            for u in rng.choice(active, size=n_leave, replace=False) if n_leave else []:
                rec = dict(self.rows[int(u)])
                if rec["employee_id"] in heads:
                    continue  # department heads stay: every manager_id keeps pointing at a current employee
                rec.update(termination_date=day.isoformat(), employment_status="terminated")
                rec["snapshot_date"] = day.isoformat()
                self.rows[int(u)] = rec
                changed.append(rec)
        return changed
