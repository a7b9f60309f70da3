// Who is where in the group photos scenes/bbt*.jpg, looked at by eye
// against the people photos: the centre of each face, left to right.
// `null` is somebody who is none of the people (an extra at the edge of bbt2).
export const SCENE_PEOPLE: Readonly<Record<string, ReadonlyArray<readonly [x: number, y: number, person: string | null]>>> = {
  'bbt1.jpg': [[260, 191, 'raj'], [519, 215, 'leonard'], [777, 195, 'howard'], [1048, 140, 'sheldon']],
  'bbt2.jpg': [[27, 125, null], [136, 172, 'leonard'], [421, 172, 'sheldon']],
  'bbt3.jpg': [[62, 61, 'sheldon'], [180, 119, 'howard'], [282, 128, 'penny'], [393, 138, 'raj'], [520, 130, 'leonard']],
  'bbt4.jpg': [[103, 319, 'leonard'], [126, 77, 'amy'], [280, 97, 'raj'], [299, 283, 'penny'], [512, 231, 'sheldon'], [621, 116, 'bernadette']],
  'bbt5.jpg': [[151, 215, 'raj'], [258, 85, 'penny'], [480, 202, 'sheldon'], [617, 97, 'leonard'], [759, 155, 'howard']],
};

/** The person whose face centre lies in the box, null for a known stranger, undefined when nobody is listed there. */
export function personAt(scene: string, box: { left: number; top: number; right: number; bottom: number }): string | null | undefined {
  const hit = (SCENE_PEOPLE[scene] ?? []).find(([x, y]) => box.left <= x && x <= box.right && box.top <= y && y <= box.bottom);
  return hit ? hit[2] : undefined;
}

/** One photo per person of ENROLLABLE-style lists: the first entry of each person. */
export function onePerPerson<T extends readonly [string, number]>(list: ReadonlyArray<T>): T[] {
  const seen = new Set<string>();
  return list.filter(([person]) => !seen.has(person) && (seen.add(person), true));
}
