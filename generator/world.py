"""The latent world: who the users really are, what the jobs and modules really need.

Everything here is drawn from O*NET: a user has a true occupation and career level (≈ job zone), a
target occupation (their own, or a next step up in the same field), skills sampled from what their
occupation needs (weighted by O*NET importance, with misses = skill gaps and a few stray skills), a
city and a taste over job categories. Protected attributes (gender, age band, region) are drawn
independently of all of that, so a fair ranking is possible by construction.

The world is a bag of numpy arrays (`World`) saved to the oracle folder; `generator.latent` turns it
into utilities, the simulator into events, the writers into landing files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from generator.tiers import Tier

S_MAX = 40  # skills kept per user (the strongest); O*NET occupations rate ~68 elements + technologies
MODULE_SKILLS = 3

MAJOR_GROUPS = {
    "11": "Management", "13": "Business and Financial Operations", "15": "Computer and Mathematical",
    "17": "Architecture and Engineering", "19": "Life, Physical, and Social Science",
    "21": "Community and Social Service", "23": "Legal", "25": "Educational Instruction and Library",
    "27": "Arts, Design, Entertainment, Sports, and Media", "29": "Healthcare Practitioners and Technical",
    "31": "Healthcare Support", "33": "Protective Service", "35": "Food Preparation and Serving Related",
    "37": "Building and Grounds Cleaning and Maintenance", "39": "Personal Care and Service",
    "41": "Sales and Related", "43": "Office and Administrative Support",
    "45": "Farming, Fishing, and Forestry",
    "47": "Construction and Extraction", "49": "Installation, Maintenance, and Repair", "51": "Production",
    "53": "Transportation and Material Moving", "55": "Military Specific",
}  # fmt: skip
CATEGORIES = list(MAJOR_GROUPS.values())

# (city, state, region, zip prefix, population weight). Regions are the four US census regions.
CITIES = [
    ("New York", "NY", "Northeast", "100", 8.0), ("Boston", "MA", "Northeast", "021", 2.0),
    ("Philadelphia", "PA", "Northeast", "191", 2.5), ("Pittsburgh", "PA", "Northeast", "152", 1.0),
    ("Newark", "NJ", "Northeast", "071", 1.0), ("Chicago", "IL", "Midwest", "606", 4.0),
    ("Detroit", "MI", "Midwest", "482", 1.5), ("Minneapolis", "MN", "Midwest", "554", 1.5),
    ("Columbus", "OH", "Midwest", "432", 1.5), ("Kansas City", "MO", "Midwest", "641", 1.0),
    ("Houston", "TX", "South", "770", 4.0), ("Dallas", "TX", "South", "752", 3.5),
    ("Atlanta", "GA", "South", "303", 3.0), ("Miami", "FL", "South", "331", 2.5),
    ("Charlotte", "NC", "South", "282", 1.5), ("Nashville", "TN", "South", "372", 1.2),
    ("Washington", "DC", "South", "200", 2.0), ("Los Angeles", "CA", "West", "900", 6.0),
    ("San Francisco", "CA", "West", "941", 2.5), ("Seattle", "WA", "West", "981", 2.5),
    ("Denver", "CO", "West", "802", 2.0), ("Phoenix", "AZ", "West", "850", 2.5),
    ("Portland", "OR", "West", "972", 1.2), ("Salt Lake City", "UT", "West", "841", 1.0),
]  # fmt: skip
GENDERS = ["female", "male", "nonbinary"]
GENDER_P = [0.49, 0.49, 0.02]
AGE_BANDS = ["18-24", "25-34", "35-44", "45-54", "55+"]
AGE_P = [0.13, 0.28, 0.25, 0.20, 0.14]
MODULE_LEVELS = ["beginner", "intermediate", "advanced"]
MODULE_LEVEL_POS = np.array([1.5, 3.0, 4.5], dtype=np.float32)  # on the 1–5 career-level scale


@dataclass
class World:
    """Latent arrays; index i of every user array is user number i (`u{i:07d}`), likewise jobs/modules."""

    # occupations (selected subset, index = occ)
    occ_soc: np.ndarray  # str
    occ_cat: np.ndarray  # int16 category index
    occ_zone: np.ndarray  # int8 1..5
    occ_imp: np.ndarray  # float32 occ × V, O*NET importance 0–1 (0 = not rated)
    occ_w: np.ndarray  # float32 occ × V, distinctive weight: importance above the all-occupation norm
    skill_names: np.ndarray  # str, V
    skill_kind: np.ndarray  # str, V
    # users
    u_occ: np.ndarray
    u_target: np.ndarray
    u_level: np.ndarray
    u_city: np.ndarray
    u_gender: np.ndarray
    u_age: np.ndarray
    u_day: np.ndarray  # day index the user arrives (0 = initial population)
    u_taste: np.ndarray  # float32 users × categories, rows sum to 1
    u_skill: np.ndarray  # int16 users × S_MAX, -1 padded, sorted by proficiency desc
    u_prof: np.ndarray  # float16 users × S_MAX proficiency 0–1
    u_listed: np.ndarray  # bool users × S_MAX: written on the resume (the rest are unlisted, true skills)
    # jobs
    j_occ: np.ndarray
    j_level: np.ndarray
    j_city: np.ndarray  # -1 = remote
    j_day: np.ndarray
    j_skill: np.ndarray  # int16 jobs × 12 required skills, -1 padded
    j_imp: np.ndarray  # float16 jobs × 12 importance of each required skill
    # modules
    m_skill: np.ndarray  # int16 modules × MODULE_SKILLS, -1 padded
    m_level: np.ndarray  # int8 0..2
    m_cat: np.ndarray
    # scalars
    seed: int
    bias_strength: float

    _dense: np.ndarray | None = None

    def prof_dense(self) -> np.ndarray:
        """users × V proficiency as uint8 (0–255): one gather per (user, skill) instead of a search.

        100 bytes per 100 users per skill: 39 MB at tier M, 390 MB at tier L.
        """
        if self._dense is None:
            dense = np.zeros((len(self.u_occ), len(self.skill_names)), dtype=np.uint8)
            rows = np.repeat(np.arange(len(self.u_occ)), self.u_skill.shape[1])
            cols = self.u_skill.ravel()
            ok = cols >= 0
            dense[rows[ok], cols[ok]] = np.round(self.u_prof.ravel()[ok].astype(np.float32) * 255).astype(
                np.uint8
            )
            self._dense = dense
        return self._dense

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("seed", "bias_strength", "_dense")
        }
        np.savez(folder / "world.npz", **arrays)
        (folder / "world.json").write_text(
            json.dumps({"seed": self.seed, "bias_strength": self.bias_strength})
        )

    @classmethod
    def load(cls, folder: Path) -> World:
        meta = json.loads((folder / "world.json").read_text())
        with np.load(folder / "world.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        return cls(**arrays, **meta)


def _skill_matrices() -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], np.ndarray]:
    """occupation × skill importance from the taxonomy; rows = all rated occupations."""
    import taxonomy

    voc = taxonomy.skill_vocabulary()
    s = taxonomy.occupation_skills()
    occ = taxonomy.occupations().dropna(subset=["job_zone"])
    rated = set(s.loc[s["skill_kind"] == "skill", "soc_code"])
    n_tech = s[s["skill_kind"] == "technology"].groupby("soc_code").size()
    socs = sorted(
        c for c in occ["soc_code"] if c in rated and n_tech.get(c, 0) >= 3 and c[:2] in MAJOR_GROUPS
    )
    soc_pos = {c: i for i, c in enumerate(socs)}
    name_pos = {n: i for i, n in enumerate(voc["skill_name"])}
    s = s[s["soc_code"].isin(soc_pos)]
    imp = np.zeros((len(socs), len(voc)), dtype=np.float32)
    imp[s["soc_code"].map(soc_pos).to_numpy(), s["skill_name"].map(name_pos).to_numpy()] = s["importance"]
    zone = occ.set_index("soc_code").loc[socs, "job_zone"].to_numpy(dtype=np.int8)
    return imp, zone, voc["skill_name"].to_numpy(dtype=str), socs, voc["skill_kind"].to_numpy(dtype=str)


def build_world(tier: Tier, seed: int, n_days: int, bias_strength: float = 0.0) -> World:
    """Draw the whole latent world for `n_days` (initial population plus every day's arrivals)."""
    rng = np.random.default_rng([seed, 1])
    imp_all, zone_all, skill_names, socs, kinds = _skill_matrices()
    is_tech = kinds == "technology"

    # Occupations: a tier-sized random subset, with a long-tailed popularity.
    n_occ = min(tier.n_occupations, len(socs))
    pick = np.sort(rng.choice(len(socs), size=n_occ, replace=False))
    imp = imp_all[pick]
    zone = zone_all[pick]
    occ_soc = np.array([socs[i] for i in pick])
    cat_of_group = {g: i for i, g in enumerate(MAJOR_GROUPS)}
    occ_cat = np.array([cat_of_group[c[:2]] for c in occ_soc], dtype=np.int16)
    # Generic skills (Reading Comprehension, Active Listening) are important everywhere and so say little
    # about fit; the distinctive weight keeps what an occupation needs *more* than the average one.
    norm = imp_all[:, ~is_tech].mean(axis=0)
    occ_w = imp.copy()
    occ_w[:, ~is_tech] = np.clip(imp[:, ~is_tech] - norm, 0.0, None) / max(1e-6, 1.0 - norm.min())
    occ_w[:, ~is_tech] = occ_w[:, ~is_tech] / np.maximum(occ_w[:, ~is_tech].max(axis=1, keepdims=True), 1e-6)
    popularity = rng.lognormal(0.0, 1.0, size=n_occ)
    popularity /= popularity.sum()

    # Next step up: an occupation of the same category with a higher job zone (if any).
    step_up = np.arange(n_occ)
    for o in range(n_occ):
        up = np.flatnonzero((occ_cat == occ_cat[o]) & (zone == zone[o] + 1))
        if len(up):
            step_up[o] = rng.choice(up)

    n_users = tier.n_users + tier.new_users_per_day * max(0, n_days - 1)
    n_jobs = tier.n_jobs + tier.new_jobs_per_day * max(0, n_days - 1)
    city_p = np.array([c[4] for c in CITIES])
    city_p /= city_p.sum()

    u_occ = rng.choice(n_occ, size=n_users, p=popularity).astype(np.int32)
    u_level = np.clip(zone[u_occ] + rng.choice([-1, 0, 0, 0, 1], size=n_users), 1, 5).astype(np.int8)
    u_target = np.where(rng.random(n_users) < 0.35, step_up[u_occ], u_occ).astype(np.int32)
    u_city = rng.choice(len(CITIES), size=n_users, p=city_p).astype(np.int16)
    # Protected attributes: independent draws, nothing downstream depends on them (unless bias_strength).
    u_gender = rng.choice(len(GENDERS), size=n_users, p=GENDER_P).astype(np.int8)
    u_age = rng.choice(len(AGE_BANDS), size=n_users, p=AGE_P).astype(np.int8)
    u_day = _arrival_days(tier.n_users, tier.new_users_per_day, n_days)
    # Taste: mostly one's own field, some curiosity elsewhere.
    n_cat = len(CATEGORIES)
    taste = rng.gamma(0.3, 1.0, size=(n_users, n_cat)).astype(np.float32)
    taste[np.arange(n_users), occ_cat[u_occ]] += rng.uniform(1.0, 3.0, size=n_users).astype(np.float32)
    taste /= taste.sum(axis=1, keepdims=True)

    u_skill, u_prof, u_listed = _user_skills(rng, imp, occ_w, is_tech, u_occ, u_level)

    j_occ = rng.choice(n_occ, size=n_jobs, p=0.7 * popularity + 0.3 / n_occ).astype(np.int32)
    j_level = np.clip(zone[j_occ] + rng.choice([-1, 0, 0, 1], size=n_jobs), 1, 5).astype(np.int8)
    j_city = rng.choice(len(CITIES), size=n_jobs, p=city_p).astype(np.int16)
    j_city[rng.random(n_jobs) < 0.12] = -1
    j_day = _arrival_days(tier.n_jobs, tier.new_jobs_per_day, n_days)
    j_skill, j_imp = _job_skills(rng, imp, occ_w, is_tech, j_occ)

    m_skill, m_level, m_cat = _modules(rng, tier.n_modules, imp, occ_w, occ_cat, popularity)
    return World(
        occ_soc=occ_soc, occ_cat=occ_cat, occ_zone=zone, occ_imp=imp, occ_w=occ_w,
        skill_names=skill_names, skill_kind=kinds,
        u_occ=u_occ, u_target=u_target, u_level=u_level, u_city=u_city, u_gender=u_gender, u_age=u_age,
        u_day=u_day, u_taste=taste, u_skill=u_skill, u_prof=u_prof, u_listed=u_listed,
        j_occ=j_occ, j_level=j_level, j_city=j_city, j_day=j_day, j_skill=j_skill, j_imp=j_imp,
        m_skill=m_skill, m_level=m_level, m_cat=m_cat, seed=seed, bias_strength=float(bias_strength),
    )  # fmt: skip


def _arrival_days(initial: int, per_day: int, n_days: int) -> np.ndarray:
    later = np.repeat(np.arange(1, max(1, n_days), dtype=np.int16), per_day)
    return np.concatenate([np.zeros(initial, dtype=np.int16), later])


def _user_skills(rng, imp, occ_w, is_tech, u_occ, u_level, chunk: int = 20_000):
    """Sample each user's true skills from their occupation (chunked: users × V never fully in memory)."""
    n = len(u_occ)
    v = imp.shape[1]
    skill = np.full((n, S_MAX), -1, dtype=np.int16)
    prof = np.zeros((n, S_MAX), dtype=np.float16)
    listed = np.zeros((n, S_MAX), dtype=bool)
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        occ = u_occ[a:b]
        w = occ_w[occ]
        # Probability of having a skill rises with how distinctive it is for the occupation; seniors
        # cover more of it. Misses are the skill gaps the learning modules are for.
        seniority = (u_level[a:b, None].astype(np.float32) - 1.0) / 4.0
        p = np.clip(0.15 + 0.75 * w * (0.7 + 0.5 * seniority), 0.0, 0.95) * (w > 0)
        p = p + 0.08 * (imp[occ] > 0.5) * (~is_tech)  # some generic-but-important skills get listed too
        p = p + 0.004  # stray skills from hobbies and past jobs
        has = rng.random((b - a, v), dtype=np.float32) < p
        noise = rng.standard_normal((b - a, v), dtype=np.float32) * np.float32(0.15)
        strength = np.where(has, np.clip(w + noise, 0.05, 1.0), np.float32(-1.0))
        # Strongest S_MAX per user: partition first (linear), then sort only those.
        part = np.argpartition(-strength, S_MAX - 1, axis=1)[:, :S_MAX]
        part_strength = np.take_along_axis(strength, part, axis=1)
        order = np.argsort(-part_strength, axis=1, kind="stable")
        top = np.take_along_axis(part, order, axis=1)
        top_strength = np.take_along_axis(part_strength, order, axis=1)
        ok = top_strength > 0
        skill[a:b] = np.where(ok, top, -1)
        prof[a:b] = np.where(ok, top_strength, 0).astype(np.float16)
        # Resumes list most but not all of what people can do.
        listed[a:b] = ok & (rng.random((b - a, S_MAX)) < 0.85)
    return skill, prof, listed


def _job_skills(rng, imp, occ_w, is_tech, j_occ, k_core: int = 6, k_tech: int = 6):
    """Required skills: the occupation's most distinctive skills/knowledge plus some of its technologies."""
    n = len(j_occ)
    out = np.full((n, k_core + k_tech), -1, dtype=np.int16)
    w = occ_w[j_occ]
    # Gumbel top-k: a weighted sample without replacement, so postings of one occupation differ.
    g = -np.log(-np.log(rng.random(w.shape, dtype=np.float32) + 1e-12) + 1e-12)
    core = np.where(~is_tech & (w > 0), np.log(w + 1e-9) * 3.0 + g, -np.inf)
    tech = np.where(is_tech & (w > 0), np.log(w + 1e-9) + g, -np.inf)
    top_core = np.argsort(-core, axis=1)[:, :k_core]
    top_tech = np.argsort(-tech, axis=1)[:, :k_tech]
    n_tech = rng.integers(2, k_tech + 1, size=n)
    ok_core = np.isfinite(np.take_along_axis(core, top_core, axis=1))
    ok_tech = np.isfinite(np.take_along_axis(tech, top_tech, axis=1)) & (np.arange(k_tech) < n_tech[:, None])
    out[:, :k_core] = np.where(ok_core, top_core, -1)
    out[:, k_core:] = np.where(ok_tech, top_tech, -1)
    rows = np.arange(n)[:, None]
    impv = np.where(out >= 0, imp[j_occ[rows], np.maximum(out, 0)], 0.0).astype(np.float16)
    return out, impv


def _modules(rng, n_modules, imp, occ_w, occ_cat, popularity):
    """Each module teaches 1–3 related skills of one occupation (skills people commonly lack)."""
    occ = rng.choice(len(popularity), size=n_modules, p=0.5 * popularity + 0.5 / len(popularity))
    skill = np.full((n_modules, MODULE_SKILLS), -1, dtype=np.int16)
    n_sk = rng.integers(1, MODULE_SKILLS + 1, size=n_modules)
    for m in range(n_modules):
        w = occ_w[occ[m]]
        cand = np.flatnonzero(w > 0.2)
        if len(cand) == 0:
            cand = np.flatnonzero(w > 0)
        k = min(n_sk[m], len(cand))
        p = w[cand] / w[cand].sum()
        skill[m, :k] = rng.choice(cand, size=k, replace=False, p=p)
    level = rng.choice(3, size=n_modules, p=[0.4, 0.4, 0.2]).astype(np.int8)
    return skill, level, occ_cat[occ].astype(np.int16)
