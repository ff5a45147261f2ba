import Foundation
import Testing
@testable import Report
@testable import Store
import TestSupport

/// The ladder on the study page and a candidate's page, over a study climbed through the
/// store (no training): a seed with its two reference jobs at rung 1, a child promoted there.
@Suite("report: ladder")
struct LadderPageTests {
    static let promotion = testPromotion(top: 1)

    func page(_ store: Store, _ study: Study) throws -> (StudySnapshot, String) {
        let snapshot = try StudySnapshot.read(store, study: study, population: 10)
        return (snapshot, StudyPage(snapshot).body())
    }

    @Test func rungsAreDrawnWithTheirGains() throws {
        let store = try openStore(temporaryDatabase())
        let study = try store.study(named: "ladder", space: "name: ladder\n", seed: 1)
        func add(_ hash: String, parent: Int64?) throws -> Candidate {
            try store.add(Candidate(studyId: study.id!, program: "p", hash: hash, parentId: parent, mutationKind: parent == nil ? nil : "insert",
                                    generation: parent == nil ? 0 : 1))
        }
        func finish(_ c: Candidate, _ loss: Double) throws {
            #expect(try store.complete(c.id!, lease: c.lease, Outcome(fitness: loss), promoting: Self.promotion))
        }
        let seed = try add("S", parent: nil), a = try add("A", parent: seed.id), b = try add("B", parent: seed.id)
        #expect(!(try page(store, study).1.contains("Ladder of scales")), "no rung job yet: no ladder section")
        try finish(seed, 2.0)
        try finish(a, 2.5)
        try finish(b, 1.5)   // top 2 of 3: B and the seed climb

        // Queued: the study page counts them; B's page lists its job as queued.
        var (snapshot, html) = try page(store, study)
        #expect(html.contains("<h2>Ladder of scales</h2>") && html.contains("<tr><td>1</td><td>0 (0 failed)</td><td>0</td><td>3</td>"), "\(html)")
        #expect(html.contains("<tr><td>0</td><td>3 (0 failed)</td><td>0</td><td>0</td><td>1</td>"), "one promoted from rung 0: \(html)")
        #expect(html.contains("No candidate has finished a rung above 0 yet."))
        let job = try #require(snapshot.jobs.first { $0.subject == b.id })
        #expect(CandidatePage(snapshot, candidate: b).body().contains("#\(job.id!) queued"))

        while let claimed = try store.claim(study: study.id!, worker: testWorker(1)) {
            try finish(claimed, claimed.subject == b.id ? 1.7 : (claimed.seed == 0 ? 1.9 : 1.95))
        }
        (snapshot, html) = try page(store, study)
        // The seed's references, 1.9 and 1.95: mean 1.925, sample deviation 0.0354; B gains 0.225.
        #expect(html.contains("<tr><td>1</td><td>3 (0 failed)</td><td>0</td><td>0</td><td>0</td><td>1.9250 ± 0.0354</td><td>#\(b.id!) +0.2250</td></tr>"), "\(html)")
        #expect(html.contains("<h3>Climbers (1)</h3>") && html.contains("<td>#\(b.id!)</td><td>1</td><td>1.5000, gain +0.5000</td><td>1.7000, gain +0.2250</td>"), "\(html)")
        #expect(html.contains("Validation loss by rung"))
        let mine = CandidatePage(snapshot, candidate: b).body()
        #expect(mine.contains("<h3>Rungs</h3>") && mine.contains("<tr><td>1</td><td>1.7000, gain +0.2250</td><td>1.9250 ± 0.0354</td><td>#\(job.id!)</td></tr>"), "\(mine)")
        #expect(!CandidatePage(snapshot, candidate: a).body().contains("<h3>Rungs</h3>"), "A never climbed")
    }
}
